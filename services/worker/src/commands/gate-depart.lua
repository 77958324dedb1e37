-- KEYS: 1 an upstream's departures (sorted set of calls by when they left, ms). ARGV: 1 most calls
-- in any window, 2 the window (ms), 3 a member naming this call. Records this call's departure
-- when the window holds fewer than the most, and returns 0; else returns the ms until it will.
-- Slots are spaced evenly, but a host that wakes late sends several at once: counting actual
-- departures keeps any window within the limit however late they leave.
--- @include "@spool/queue/commands/now-ms.lua"
local now = nowMs()
local most = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < most then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window + 1000)
  return 0
end
-- The window has room again once the (count - most + 1) oldest have left it.
local freeing = redis.call('ZRANGE', KEYS[1], count - most, count - most, 'WITHSCORES')
return math.max(1, tonumber(freeing[2]) + window - now + 1)
