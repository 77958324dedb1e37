-- GCRA over Redis time, shared by every API process. KEYS: 1 the key's theoretical arrival time.
-- ARGV: 1 ms between requests, 2 burst tolerance ms. Returns {allowed, remaining, retry ms, reset ms}.
--- @include "@spool/queue/commands/now-ms.lua"
local now = nowMs()
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = math.max(tonumber(redis.call('GET', KEYS[1])) or now, now)
local next_tat = tat + interval
if next_tat - now > tolerance + interval then
  return {0, 0, math.ceil(next_tat - now - tolerance - interval), math.ceil(tat - now)}
end
redis.call('SET', KEYS[1], next_tat, 'PX', math.ceil(next_tat - now) + 1000)
return {1, math.floor((tolerance + interval - (next_tat - now)) / interval), 0, math.ceil(next_tat - now)}
