-- KEYS: 1 the spend hash of the reservation's month, 2 the job's reservation hash, 3 the job
-- hash. ARGV: 1 the reservation's token, 2 what the call really cost (nano-USD, whole), 3 upstream
-- calls billed (0 or 1), 4 prompt tokens, 5 completion tokens, 6 the reservation's month.
-- Settles the reservation to the real cost, once: a token that no longer holds it (settled
-- already, or replaced after a takeover) changes nothing. The job's own totals count the call
-- too. Returns the job's cost fields as field, value pairs ({} when nothing was settled).
local FIELDS = {'cost_nusd', 'billed_requests', 'billed_prompt_tokens', 'billed_completion_tokens', 'cost_month'}
local reservation = redis.call('HMGET', KEYS[2], 'token', 'amount')
if reservation[1] ~= ARGV[1] then return {} end
redis.call('DEL', KEYS[2])
-- A hash Redis lost is left for seeding from the store, which counts this job once it ends.
if redis.call('EXISTS', KEYS[1]) == 1 then
  -- ('-' .. '0' would be "-0", which HINCRBY refuses: a reservation of nothing gives nothing back)
  local amount = tonumber(reservation[2]) or 0
  if amount > 0 and redis.call('HINCRBY', KEYS[1], 'reserved', -amount) < 0 then redis.call('HSET', KEYS[1], 'reserved', 0) end
  redis.call('HINCRBY', KEYS[1], 'spent', ARGV[2])
  redis.call('HINCRBY', KEYS[1], 'requests', ARGV[3])
  redis.call('HINCRBY', KEYS[1], 'prompt_tokens', ARGV[4])
  redis.call('HINCRBY', KEYS[1], 'completion_tokens', ARGV[5])
end
if redis.call('EXISTS', KEYS[3]) == 0 then return {} end
redis.call('HINCRBY', KEYS[3], 'cost_nusd', ARGV[2])
redis.call('HINCRBY', KEYS[3], 'billed_requests', ARGV[3])
redis.call('HINCRBY', KEYS[3], 'billed_prompt_tokens', ARGV[4])
redis.call('HINCRBY', KEYS[3], 'billed_completion_tokens', ARGV[5])
redis.call('HSET', KEYS[3], 'cost_month', ARGV[6])
local values = redis.call('HMGET', KEYS[3], unpack(FIELDS))
local out = {}
for index, field in ipairs(FIELDS) do
  out[#out + 1] = field
  out[#out + 1] = values[index]
end
return out
