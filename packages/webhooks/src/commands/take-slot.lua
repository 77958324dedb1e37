-- KEYS: 1 the tenant's slot set (holder scored by lease end, Redis time in ms).
-- ARGV: 1 holder, 2 lease ms, 3 slots per tenant. 1 when the slot is taken (or already held), else 0.
--- @include "@spool/queue/commands/now-ms.lua"
local now = nowMs()
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
