-- KEYS: 1 job hash, 2 event list, 3 the tenant's index, 4 the tenant's quota, 5 its scheduler
-- line, 6 its running set, 7 the scheduler's released set, 8 its pending set. ARGV: 1 job id.
-- Removes a job that never ran (a batch rolled back) and gives back what it held of the quota.
-- Deletions come first: under maxmemory a script may go on writing once it has written.
--- @include "./includes/terminal.lua"
--- @include "./includes/release-quota.lua"
--- @include "./includes/leave-scheduler.lua"
local held = redis.call('HMGET', KEYS[1], 'quota_bytes', 'status')
redis.call('UNLINK', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
leaveScheduler(KEYS[5], KEYS[6], KEYS[7], KEYS[8], ARGV[1])
if held[1] and not terminal(held[2]) then releaseQuota(KEYS[4], held[1]) end
return 1
