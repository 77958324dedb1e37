-- KEYS: 1 the gate hash. ARGV: 1 ms to hold every call back from now. Returns when the pause ends (ms).
--- @include "@spool/queue/commands/now-ms.lua"
local now = nowMs()
local ms = math.ceil(tonumber(ARGV[1]))
local until_ms = now + ms
local current = tonumber(redis.call('HGET', KEYS[1], 'paused_until')) or 0
if until_ms > current then redis.call('HSET', KEYS[1], 'paused_until', until_ms) end
redis.call('PEXPIRE', KEYS[1], math.max(120000, ms + 120000))
return until_ms
