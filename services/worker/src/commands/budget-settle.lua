-- KEYS: 1 the spend hash of the reservation's month, 2 the job's reservation hash (the control
-- slot). ARGV: 1 the reservation's token, 2 what the call really cost (nano-USD, whole), 3
-- upstream calls billed (0 or 1), 4 prompt tokens, 5 completion tokens.
-- Settles the reservation to the real cost, once: a token that no longer holds it (settled
-- already, or replaced after a takeover) changes nothing. The job's own totals are counted first,
-- in its slot (budget-charge-job.lua). Returns 1 settled; 0 not this token's to settle.
local reservation = redis.call('HMGET', KEYS[2], 'token', 'amount')
if reservation[1] ~= ARGV[1] then return 0 end
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
return 1
