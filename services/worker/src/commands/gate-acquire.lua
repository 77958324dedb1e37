-- KEYS: 1 the gate hash. ARGV: 1 ms between requests (0 = no RPM), 2 tokens of this call,
-- 3 ms per token (0 = no TPM), 4 '1' when a caller that has other upstreams to go to would rather
-- leave than wait out a pause. Reserves the next free slot and returns how long to wait for it,
-- in whole ms; with ARGV[4], a paused gate reserves nothing and returns minus the pause left.
-- Slots are spaced evenly, so any 5 s holds at most RPM/12 + 1 requests (and TPM/12 tokens plus
-- one call's worth): the whole fleet, however many workers and jobs are waiting.
-- Slot times keep their fraction of a ms (a gap is rarely whole); what Redis or the caller needs
-- whole is rounded up.
--- @include "@spool/queue/commands/now-ms.lua"
local now = nowMs()
local gate = redis.call('HMGET', KEYS[1], 'next_request', 'next_token', 'paused_until')
local paused_until = tonumber(gate[3]) or 0
if ARGV[4] == '1' and paused_until > now then return -math.ceil(paused_until - now) end
local start = math.max(now, tonumber(gate[1]) or 0, tonumber(gate[2]) or 0, tonumber(gate[3]) or 0)
local request_gap = tonumber(ARGV[1])
local token_gap = tonumber(ARGV[2]) * tonumber(ARGV[3])
if request_gap > 0 then redis.call('HSET', KEYS[1], 'next_request', start + request_gap) end
if token_gap > 0 then redis.call('HSET', KEYS[1], 'next_token', start + token_gap) end
local wait = math.ceil(start - now)
redis.call('PEXPIRE', KEYS[1], wait + 120000)
return wait
