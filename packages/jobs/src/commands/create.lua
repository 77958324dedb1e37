-- KEYS: 1 job hash, 2 event list, 3 events channel (the job's slot). ARGV: 1 publish command, 2
-- queued entry, 3 s the record lives unless admitted, 4.. field/value pairs.
-- A job's first step: its record and `queued` event. ADMIT (admit.lua, in the control slot: the
-- tenant's quota and index) follows, then ADMITTED makes the record last. A crash before ADMIT
-- leaves a record that expires and holds nothing of its tenant's.
-- Returns 1; -1 if the job exists.
--- @include "@spool/stream/commands/event-log.lua"
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
appendEvent(KEYS[2], KEYS[3], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
