-- KEYS: 1 job hash, 2 event list, 3 events channel, 4 the outbox, 5 the tenant's quota, 6 the
-- tenant's index, 7 its expiry set, 8 its scheduler line, 9 its running set, 10 the scheduler's
-- released set, 11 its pending set, 12 the fleet's jobs by status, 13 the fleet's tokens.
-- ARGV: 1 owner token ('' = whoever holds it), 2 expected event count ('' = any), 3 done entry,
-- 4 events ttl s, 5 job ttl s, 6 job id, 7 prompt tokens, 8 completion tokens (for the fleet
-- counts), 9.. field/value pairs.
-- The job id goes to the outbox in the same step, so its side effects are never forgotten; the
-- job leaves its tenant's quota (it ends once, so once). Returns the done event's id; -1 if it had
-- already ended or the owner lost it; -2 if missing; -3 if the log moved on since the caller read
-- it (read again and retry).
--- @include "@spool/stream/commands/event-log.lua"
--- @include "./includes/terminal.lua"
--- @include "./includes/release-quota.lua"
--- @include "./includes/trim-index.lua"
--- @include "./includes/count-fleet.lua"
--- @include "./includes/leave-scheduler.lua"
local current = redis.call('HMGET', KEYS[1], 'owner', 'status')
if not current[2] then return -2 end
if terminal(current[2]) then return -1 end
if ARGV[1] ~= '' and current[1] ~= ARGV[1] then return -1 end
if ARGV[2] ~= '' and redis.call('LLEN', KEYS[2]) ~= tonumber(ARGV[2]) then return -3 end
redis.call('HDEL', KEYS[1], 'owner')
redis.call('HSET', KEYS[1], unpack(ARGV, 9))
local n = appendEvent(KEYS[2], KEYS[3], ARGV[3])
-- The record outlives the log: an SSE resume after the log expired still knows the done's id.
redis.call('HSET', KEYS[1], 'done_event_id', n)
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('LPUSH', KEYS[4], ARGV[6])
local bytes = redis.call('HGET', KEYS[1], 'quota_bytes')
if bytes then releaseQuota(KEYS[5], bytes) end
redis.call('ZADD', KEYS[7], nowMs() + ARGV[5] * 1000, ARGV[6])
trimIndex(KEYS[6], KEYS[7])
leaveScheduler(KEYS[8], KEYS[9], KEYS[10], KEYS[11], ARGV[6])
countFleet(KEYS[12], KEYS[13], KEYS[1], ARGV[7], ARGV[8])
return n
