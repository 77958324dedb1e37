-- KEYS: 1 the tenant's line, 2 its running set, 3 its schedule. ARGV: 1 job id, 2.. the gates of
-- the upstreams that serve the job's model (all of them are busy or paused: upstream_rate_limit). What holds a queued job now: `tenant_concurrency`, `tenant_rpm`, `tenant_tpm`
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
if #ARGV < 2 then return 'capacity' end
for i = 2, #ARGV do
  local held = false
  for _, slot in ipairs(redis.call('HMGET', ARGV[i], 'next_request', 'next_token', 'paused_until')) do
    if (tonumber(slot) or 0) > now then held = true end
  end
  if not held then return 'capacity' end
end
return 'upstream_rate_limit'
