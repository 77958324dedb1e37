-- KEYS: 1 an upstream's health hash. ARGV: 1 ms the trial call may take before another may try.
-- Returns 2 when the upstream is in (no trial needed), 1 when the caller's call is the one trial
-- of an upstream whose window out has passed, 0 when it is still out or another call is the trial.
--- @include "@spool/queue/commands/now-ms.lua"
local health = redis.call('HMGET', KEYS[1], 'out_until', 'trial_until')
local out_until = tonumber(health[1])
if not out_until then return 2 end
local now = nowMs()
if out_until > now or (tonumber(health[2]) or 0) > now then return 0 end
redis.call('HSET', KEYS[1], 'trial_until', now + tonumber(ARGV[1]))
return 1
