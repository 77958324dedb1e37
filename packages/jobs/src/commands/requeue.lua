-- KEYS: 1 job hash, 2 event list, 3 events channel. ARGV: 1 publish command, 2 owner token, 3
-- '1' to give the attempt back (it was not the job's fault), 4 entry. Hands the job back to the
-- queue for another attempt. Returns the entry's event id, or -1 if this owner lost the job.
--- @include "@spool/stream/commands/event-log.lua"
--- @include "./includes/terminal.lua"
local current = redis.call('HMGET', KEYS[1], 'owner', 'status')
if current[1] ~= ARGV[2] or terminal(current[2]) then return -1 end
redis.call('HDEL', KEYS[1], 'owner')
redis.call('HSET', KEYS[1], 'status', 'queued')
if ARGV[3] == '1' then
  redis.call('HINCRBY', KEYS[1], 'attempts', -1)
  redis.call('HINCRBY', KEYS[1], 'deferrals', 1)
end
return appendEvent(KEYS[2], KEYS[3], ARGV[1], ARGV[4])
