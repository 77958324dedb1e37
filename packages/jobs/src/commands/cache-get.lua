-- KEYS: 1 the cache entry. ARGV: 1 how old a cached reply may be, ms. Returns its result JSON, or
-- false when there is none that recent.
--- @include "@spool/queue/commands/now-ms.lua"
local entry = redis.call('HMGET', KEYS[1], 'at', 'result')
if entry[1] and nowMs() - tonumber(entry[1]) < tonumber(ARGV[1]) then return entry[2] end
return false
