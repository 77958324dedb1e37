-- KEYS: 1 the job hash (the job's slot). ARGV: 1 the reservation's token, 2 what the call really
-- cost (nano-USD, whole), 3 upstream calls billed (0 or 1), 4 prompt tokens, 5 completion tokens,
-- 6 the reservation's month.
-- Counts one settled call in the job's own totals, once per reservation (every token counted is
-- noted in `cost_tokens`, not only the last: a stalled worker's own settlement may come after its
-- leftover was counted and the takeover's call too): the first half of a settlement, so that a
-- crash before its second half (budget-settle.lua) leaves the reservation for `settleLeftover`,
-- whose charge here is then a no-op.
-- Returns the job's cost fields as field, value pairs ({} when the job is gone or this token was counted).
local FIELDS = {'cost_nusd', 'billed_requests', 'billed_prompt_tokens', 'billed_completion_tokens', 'cost_month'}
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
local counted = redis.call('HGET', KEYS[1], 'cost_tokens') or ''
if string.find(' ' .. counted .. ' ', ' ' .. ARGV[1] .. ' ', 1, true) then return {} end
redis.call('HINCRBY', KEYS[1], 'cost_nusd', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'billed_requests', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'billed_prompt_tokens', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'billed_completion_tokens', ARGV[5])
redis.call('HSET', KEYS[1], 'cost_month', ARGV[6], 'cost_tokens', counted == '' and ARGV[1] or (counted .. ' ' .. ARGV[1]))
local values = redis.call('HMGET', KEYS[1], unpack(FIELDS))
local out = {}
for index, field in ipairs(FIELDS) do
  out[#out + 1] = field
  out[#out + 1] = values[index]
end
return out
