-- KEYS: 1 the gate hash. ARGV: 1 ms to move the token slot by (negative gives back an overestimate).
local next_token = tonumber(redis.call('HGET', KEYS[1], 'next_token'))
if next_token then redis.call('HSET', KEYS[1], 'next_token', next_token + tonumber(ARGV[1])) end
return 0
