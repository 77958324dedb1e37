-- KEYS: 1 a tenant's schedule, 2 its estimates. ARGV: 1 an ended job's id, 2 the tokens its calls
-- really used upstream. Corrects what the tenant's TPM was charged when the job was released and
-- for each later call (estimates, noted as `charged:<id>`; scheduler-charge-call.lua) by what it
-- used: a job that failed, was cancelled or merged gives back what it did not use. Once per job:
-- the notes go (its count of calls too). A job never released (cancelled in line, or a cache hit
-- at submission) was charged nothing and changes nothing. A refund never makes the tenant ready
-- earlier than now (no credit piles up).
-- Returns 1 corrected, 0 nothing to correct.
--- @include "./now-ms.lua"
local field = 'charged:' .. ARGV[1]
local charged = tonumber(redis.call('HGET', KEYS[2], field))
redis.call('HDEL', KEYS[2], 'calls:' .. ARGV[1])
if not charged then return 0 end
redis.call('HDEL', KEYS[2], field)
local gap = tonumber(redis.call('HGET', KEYS[1], 'tpm_gap'))
if not gap then return 0 end
local now = nowMs()
local next = math.max(now, tonumber(redis.call('HGET', KEYS[1], 'next_token')) or 0) + (tonumber(ARGV[2]) - charged) * gap
if next < now then next = now end
redis.call('HSET', KEYS[1], 'next_token', next)
return 1
