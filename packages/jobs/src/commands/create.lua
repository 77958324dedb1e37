-- KEYS: 1 job hash, 2 event list, 3 events channel, 4 the tenant's index, 5 the submission
-- counter, 6 the tenant's quota. ARGV: 1 job id, 2 queued entry, 3 the request's bytes, 4 most
-- jobs not yet ended, 5 most bytes of their requests, 6.. field/value pairs. The job counts
-- against its tenant's quota until FINISH.
-- Returns the job's submission order; -1 if it exists; -2 over the jobs quota; -3 over the bytes quota.
--- @include "@spool/stream/commands/event-log.lua"
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local held = redis.call('HMGET', KEYS[6], 'jobs', 'bytes')
if (tonumber(held[1]) or 0) >= tonumber(ARGV[4]) then return -2 end
if (tonumber(held[2]) or 0) + tonumber(ARGV[3]) > tonumber(ARGV[5]) then return -3 end
redis.call('HINCRBY', KEYS[6], 'jobs', 1)
redis.call('HINCRBY', KEYS[6], 'bytes', ARGV[3])
local seq = redis.call('INCR', KEYS[5])
redis.call('HSET', KEYS[1], 'seq', seq, 'quota_bytes', ARGV[3], unpack(ARGV, 6))
redis.call('ZADD', KEYS[4], seq, ARGV[1])
appendEvent(KEYS[2], KEYS[3], ARGV[2])
return seq
