-- KEYS: the gates of the upstreams that may take a call, in order of preference. ARGV: 1 tokens
-- of this call, then for each gate its ms between requests and its ms per token (0: none).
-- Reserves the earliest slot among them (the first listed on a tie), as gate-acquire.lua does on
-- one gate, and returns {the chosen gate's index, from 1; ms to wait for its slot}. Choosing and
-- reserving in one step: workers routing at the same moment never all pile onto one gate while
-- another has room. (Several keys: on a cluster, the prefix's hash tag keeps them in one slot.)
--- @include "@spool/queue/commands/now-ms.lua"
local now = nowMs()
local tokens = tonumber(ARGV[1])
local best, best_start
for i = 1, #KEYS do
  local gate = redis.call('HMGET', KEYS[i], 'next_request', 'next_token', 'paused_until')
  local start = math.max(now, tonumber(gate[1]) or 0, tonumber(gate[2]) or 0, tonumber(gate[3]) or 0)
  if best_start == nil or start < best_start then
    best = i
    best_start = start
  end
end
local request_gap = tonumber(ARGV[2 * best])
local token_gap = tokens * tonumber(ARGV[2 * best + 1])
if request_gap > 0 then redis.call('HSET', KEYS[best], 'next_request', best_start + request_gap) end
if token_gap > 0 then redis.call('HSET', KEYS[best], 'next_token', best_start + token_gap) end
local wait = math.ceil(best_start - now)
redis.call('PEXPIRE', KEYS[best], wait + 120000)
return {best, wait}
