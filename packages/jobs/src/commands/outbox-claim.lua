-- KEYS: 1 outbox, 2 processing list, 3 claims hash. ARGV: 1 how many, 2 now.
-- Claims up to that many entries in one step; returns their job ids.
local claimed = {}
for i = 1, tonumber(ARGV[1]) do
  local id = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
  if not id then break end
  redis.call('HSET', KEYS[3], id, ARGV[2])
  claimed[#claimed + 1] = id
end
return claimed
