-- KEYS: 1..7 as includes/dispatch.lua. ARGV: 1 the control slot's tag, 2 most jobs to release, 3
-- pending limit, 4 the chat queue's key prefix, 5 its entries' options (queue-released.lua), 6
-- tenant, 7.. priority/job id/data triples (data '' when the entry carries only the id). Puts the
-- tenant's jobs in its waiting line (priority first, then submission order, from the tenant's
-- index), then releases what the fleet has room for, onto the queue. A job not admitted (its
-- tenant's quota refused it) is not put in line.
-- Returns dispatch's answer.
--- @include "./includes/dispatch.lua"
--- @include "./includes/queue-released.lua"
local prefix, tenant = ARGV[1], ARGV[6]
local waiting = tenantKey(prefix, tenant, 'waiting')
local carried = {}
for i = 7, #ARGV, 3 do
  local id = ARGV[i + 1]
  local seq = tonumber(redis.call('ZSCORE', tenantKey(prefix, tenant, 'jobs'), id))
  if seq then redis.call('ZADD', waiting, tonumber(ARGV[i]) * 4294967296 + seq, id) end
  if ARGV[i + 2] ~= '' then carried[id] = ARGV[i + 2] end
end
if redis.call('EXISTS', waiting) == 1 then activate(prefix, tenant) end
local released = dispatch(prefix, tonumber(ARGV[2]), tonumber(ARGV[3]))
queueReleased(ARGV[4], ARGV[5], released, carried)
return released
