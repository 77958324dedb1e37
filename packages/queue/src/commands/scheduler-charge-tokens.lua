-- KEYS: 1 a tenant's schedule. ARGV: 1 tokens (negative: a refund). Corrects what the tenant's
-- TPM was charged at release (an estimate) by what its job really used; a refund never makes
-- the tenant ready earlier than now (no credit piles up). Does nothing for a tenant with no tpm.
--- @include "./now-ms.lua"
local gap = tonumber(redis.call('HGET', KEYS[1], 'tpm_gap'))
if not gap then return 0 end
local now = nowMs()
local next = math.max(now, tonumber(redis.call('HGET', KEYS[1], 'next_token')) or 0) + tonumber(ARGV[1]) * gap
if next < now then next = now end
redis.call('HSET', KEYS[1], 'next_token', next)
return 1
