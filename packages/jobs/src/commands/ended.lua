-- KEYS: 1 the tenant's quota, 2 the outbox, 3 the tenant's index, 4 its expiry set, 5 its
-- scheduler line, 6 its running set, 7 the scheduler's released set, 8 its pending set, 9 its
-- deferred set, 10 the tenant's deferred set, 11 the fleet's jobs by status, 12 the fleet's
-- tokens, 13 the tenant's estimates (the control slot).
-- ARGV: 1 job id, 2 its final status, 3 its tenant, 4 prompt tokens, 5 completion tokens, 6 the
-- record's ttl s.
-- The control slot's half of a job's end (finish.lua ended its record): the job id goes to the
-- outbox, so its side effects are never forgotten; it leaves its tenant's quota and the fair
-- scheduler; the fleet counts it. Applied once: the first run takes the job's quota entry (which
-- admit.lua wrote), and a run that finds none changes nothing, so a repair may run it again.
-- Returns 1 applied; 0 applied already (or the job was never admitted).
--- @include "./includes/release-quota.lua"
--- @include "./includes/trim-index.lua"
--- @include "./includes/count-fleet.lua"
--- @include "./includes/leave-scheduler.lua"
local bytes = redis.call('HGET', KEYS[1], ARGV[1])
if not bytes then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('LPUSH', KEYS[2], ARGV[1])
releaseQuota(KEYS[1], bytes)
redis.call('ZADD', KEYS[4], nowMs() + ARGV[6] * 1000, ARGV[1])
trimIndex(KEYS[3], KEYS[4])
leaveScheduler(KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], ARGV[1])
redis.call('HDEL', KEYS[13], ARGV[1])
countFleet(KEYS[11], KEYS[12], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
return 1
