-- KEYS: 1 job hash, 2 event list, 3 events channel. ARGV: 1 publish command, 2 owner token, 3
-- how the reply ended ('' = it has not), 4.. entries. Returns the last event id (0 with no
-- entries), or -1 if this owner lost the job.
--- @include "@spool/stream/commands/event-log.lua"
--- @include "./includes/terminal.lua"
local current = redis.call('HMGET', KEYS[1], 'owner', 'status')
if current[1] ~= ARGV[2] or terminal(current[2]) then return -1 end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'stream_end', ARGV[3]) end
local n = 0
for i = 4, #ARGV do n = appendEvent(KEYS[2], KEYS[3], ARGV[1], ARGV[i]) end
return n
