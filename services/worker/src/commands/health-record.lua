-- KEYS: 1 an upstream's health hash. ARGV: 1 how the call went ('ok': it answered; 'failed': 5xx,
-- timeout or connection error; 'neutral': it was aborted), 2 '1' when the call was the trial,
-- 3 failed calls in a row that take the upstream out, 4 ms it stays out.
-- An answer brings the upstream back; the threshold's failure (or a failed trial) takes it out
-- for the window, after which one trial call may go (health-claim-trial.lua).
-- Returns {failed calls in a row, out_until (ms; 0: in)}.
--- @include "@spool/queue/commands/now-ms.lua"
if ARGV[1] == 'ok' then
  redis.call('DEL', KEYS[1])
  return {0, 0}
end
local out_until = tonumber(redis.call('HGET', KEYS[1], 'out_until')) or 0
if ARGV[1] == 'neutral' then
  -- An aborted trial says nothing: the next call may try.
  if ARGV[2] == '1' then redis.call('HDEL', KEYS[1], 'trial_until') end
  return {tonumber(redis.call('HGET', KEYS[1], 'failures')) or 0, out_until}
end
local out_ms = tonumber(ARGV[4])
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
-- Calls already in flight when it went out may fail after: they do not stretch the window.
if ARGV[2] == '1' or (failures >= tonumber(ARGV[3]) and out_until == 0) then
  out_until = nowMs() + out_ms
  redis.call('HSET', KEYS[1], 'out_until', out_until)
  redis.call('HDEL', KEYS[1], 'trial_until')
end
redis.call('PEXPIRE', KEYS[1], math.max(600000, out_ms * 2))
return {failures, out_until}
