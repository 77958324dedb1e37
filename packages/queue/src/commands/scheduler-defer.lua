-- KEYS: 1 the scheduler's released set, 2 its pending set, 3 its deferred set, 4 the job's
-- tenant's deferred set. ARGV: 1 job id, 2 how long its wait lasts (ms). A released job was handed
-- back or backs off for that long: until then it holds no worker slot (includes/dispatch.lua), and
-- it waits at no upstream gate. Its wait ends by Redis's clock, the one the release step reads: a
-- worker whose own clock is off frees no slot for longer than the wait. A job not released (ended
-- already) is not marked. Returns 1 marked, 0 not.
--- @include "./now-ms.lua"
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
local untilMs = nowMs() + tonumber(ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], untilMs, ARGV[1])
redis.call('ZADD', KEYS[4], untilMs, ARGV[1])
return 1
