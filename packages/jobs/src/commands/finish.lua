-- KEYS: 1 job hash, 2 event list, 3 events channel (the job's slot). ARGV: 1 publish command, 2
-- owner token ('' = whoever holds it), 3 expected event count ('' = any), 4 done entry, 5 events
-- ttl s, 6 job ttl s, 7.. field/value pairs (with `ended_tokens`: what ENDED counts).
-- Ends the job once: record, `done` event, expiries. Its control-slot half (ended.lua: outbox,
-- quota, scheduler, fleet counts) follows; until that ran, the job is still on its scheduler line
-- or queue, so whoever meets it ended runs ENDED (which applies once) before letting it go.
-- Returns {the done event's id}; {-1, status, tenant, ended_tokens} if it had already ended or the
-- owner lost it; {-2} if missing; {-3} if the log moved on since the caller read it (read again
-- and retry).
--- @include "@spool/stream/commands/event-log.lua"
--- @include "./includes/terminal.lua"
local current = redis.call('HMGET', KEYS[1], 'owner', 'status', 'tenant', 'ended_tokens')
if not current[2] then return {-2} end
if terminal(current[2]) or (ARGV[2] ~= '' and current[1] ~= ARGV[2]) then return {-1, current[2], current[3], current[4]} end
if ARGV[3] ~= '' and redis.call('LLEN', KEYS[2]) ~= tonumber(ARGV[3]) then return {-3} end
redis.call('HDEL', KEYS[1], 'owner')
redis.call('HSET', KEYS[1], unpack(ARGV, 7))
local n = appendEvent(KEYS[2], KEYS[3], ARGV[1], ARGV[4])
-- The record outlives the log: an SSE resume after the log expired still knows the done's id.
redis.call('HSET', KEYS[1], 'done_event_id', n)
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[6])
return {n}
