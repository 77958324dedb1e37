-- KEYS: 1..6 as includes/dispatch.lua. ARGV: 1 the control slot's tag, 2 most jobs to release, 3
-- pending limit, 4 tenant, 5.. priority/job id pairs. Puts the tenant's jobs in its waiting line
-- (priority first, then submission order, from the tenant's index), then releases what the fleet
-- has room for. A job not admitted (its tenant's quota refused it) is not put in line.
-- Returns dispatch's answer.
--- @include "./includes/dispatch.lua"
local prefix, tenant = ARGV[1], ARGV[4]
local waiting = tenantKey(prefix, tenant, 'waiting')
for i = 5, #ARGV, 2 do
  local id = ARGV[i + 1]
  local seq = tonumber(redis.call('ZSCORE', tenantKey(prefix, tenant, 'jobs'), id))
  if seq then redis.call('ZADD', waiting, tonumber(ARGV[i]) * 4294967296 + seq, id) end
end
if redis.call('EXISTS', waiting) == 1 then activate(prefix, tenant) end
return dispatch(prefix, tonumber(ARGV[2]), tonumber(ARGV[3]))
