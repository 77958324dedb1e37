-- GCRA over Redis time, shared by every API process. KEYS: 1 the key's theoretical arrival time.
-- ARGV: 1 ms between requests, 2 burst tolerance ms, 3 requests to charge now (1, the default, or
-- 0), 4 requests more to prepay (default 0), 5 the room that must be left after them (default 0).
-- A request refused takes nothing. The prepaid ones are charged only when the room left after
-- them is at least ARGV 5; the API process spends them itself (rate-allowance.ts).
-- Returns {allowed, remaining, retry ms, reset ms, prepaid}.
--- @include "@spool/queue/commands/now-ms.lua"
local now = nowMs()
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local charge = tonumber(ARGV[3] or '1')
local extra = tonumber(ARGV[4] or '0')
local keep = tonumber(ARGV[5] or '0')
local tat = math.max(tonumber(redis.call('GET', KEYS[1])) or now, now)
local next_tat = tat + charge * interval
if next_tat - now > tolerance + interval then
  return {0, 0, math.ceil(next_tat - now - tolerance - interval), math.ceil(tat - now), 0}
end
local remaining = math.floor((tolerance + interval - (next_tat - now)) / interval)
local prepaid = 0
if extra > 0 and remaining - extra >= keep then
  prepaid = extra
  remaining = remaining - extra
  next_tat = next_tat + extra * interval
end
if next_tat > tat then redis.call('SET', KEYS[1], next_tat, 'PX', math.ceil(next_tat - now) + 1000) end
return {1, remaining, 0, math.ceil(next_tat - now), prepaid}
