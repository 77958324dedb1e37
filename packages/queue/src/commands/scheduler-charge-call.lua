-- KEYS: 1 a tenant's schedule, 2 its estimates. ARGV: 1 a job id, 2 the call's estimated tokens.
-- An upstream call of a released job is about to go. The job's release paid for its first call;
-- every later one (a retry, a takeover's) is charged to the tenant's rpm and tpm here, so that
-- they hold for every call: it does not wait (its job holds a worker slot, which waiting would
-- take from other tenants), it moves the tenant's next release later. Calls are counted as
-- `calls:<id>`, tokens charged added to `charged:<id>` (corrected at the end by
-- scheduler-charge-tokens.lua, which drops both). Returns 1 charged, 0 the release paid for it.
--- @include "./now-ms.lua"
local id = ARGV[1]
if redis.call('HINCRBY', KEYS[2], 'calls:' .. id, 1) == 1 then return 0 end
local s = redis.call('HMGET', KEYS[1], 'rpm_gap', 'tpm_gap', 'next_request', 'next_token')
local rpmGap, tpmGap = tonumber(s[1]), tonumber(s[2])
local now = nowMs()
if rpmGap then redis.call('HSET', KEYS[1], 'next_request', math.max(now, tonumber(s[3]) or 0) + rpmGap) end
if tpmGap then
  local tokens = tonumber(ARGV[2])
  redis.call('HSET', KEYS[1], 'next_token', math.max(now, tonumber(s[4]) or 0) + tokens * tpmGap)
  redis.call('HINCRBY', KEYS[2], 'charged:' .. id, tokens)
end
return 1
