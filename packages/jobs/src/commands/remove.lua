-- KEYS: 1 the tenant's quota, 2 the tenant's index, 3 its scheduler line, 4 its running set, 5 the
-- scheduler's released set, 6 its pending set, 7 its deferred set, 8 the tenant's deferred set,
-- 9 the tenant's estimates (the control slot). ARGV:
-- 1 job id.
-- Takes back the admission of a job that never ran (a batch rolled back): it leaves the index and
-- the scheduler and gives back what it held of the quota (once: its quota entry goes). The caller
-- then deletes the record, in the job's slot. Deletions come first: under maxmemory a script may go
-- on writing once it has written.
--- @include "./includes/release-quota.lua"
--- @include "./includes/leave-scheduler.lua"
local bytes = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
leaveScheduler(KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], ARGV[1])
redis.call('HDEL', KEYS[9], ARGV[1])
if bytes then
  redis.call('HDEL', KEYS[1], ARGV[1])
  releaseQuota(KEYS[1], bytes)
end
return 1
