-- KEYS: 1 the scheduler's released set, 2 its pending set, 3 its deferred set, 4 the job's
-- tenant's deferred set. ARGV: 1 job id, 2 when its wait ends (ms, the clock BullMQ's delayed set
-- runs on: the worker's). A released job was handed back or backs off until then: until then it
-- holds no worker slot (includes/dispatch.lua), and it waits at no upstream gate. A job not
-- released (ended already) is not marked. Returns 1 marked, 0 not.
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
return 1
