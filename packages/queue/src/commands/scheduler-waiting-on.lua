-- KEYS: 1 the tenant's line, 2 its running set, 3 its schedule, 4 the upstream gate.
-- ARGV: 1 job id. What holds a queued job now: `tenant_concurrency`, `tenant_rpm`, `tenant_tpm`
-- (its tenant's own limits, while it waits in line), `upstream_rate_limit` (the upstream's
-- RPM/TPM or a 429 pause), else `capacity` (other jobs hold the workers, or it is about to run).
--- @include "./now-ms.lua"
local now = nowMs()
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  local s = redis.call('HMGET', KEYS[3], 'max_concurrency', 'next_request', 'next_token')
  local limit = tonumber(s[1])
  if limit and redis.call('ZCARD', KEYS[2]) >= limit then return 'tenant_concurrency' end
  if (tonumber(s[2]) or 0) > now then return 'tenant_rpm' end
  if (tonumber(s[3]) or 0) > now then return 'tenant_tpm' end
end
local gate = redis.call('HMGET', KEYS[4], 'next_request', 'next_token', 'paused_until')
for _, slot in ipairs(gate) do
  if (tonumber(slot) or 0) > now then return 'upstream_rate_limit' end
end
return 'capacity'
