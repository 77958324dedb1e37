-- KEYS: 1 job hash, 2 event list, 3 events channel. ARGV: 1 publish command, 2 owner token, 3
-- now (s).
-- Returns {'missing'} | {'ended', status, tenant, ended_tokens} (what ENDED needs: see finish.lua)
-- | {'started', event count, field, value, ...}.
--- @include "@spool/stream/commands/event-log.lua"
--- @include "./includes/terminal.lua"
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'missing'} end
if terminal(status) then return {'ended', status, unpack(redis.call('HMGET', KEYS[1], 'tenant', 'ended_tokens'))} end
local attempt = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'status', 'running', 'owner', ARGV[2])
redis.call('HSETNX', KEYS[1], 'started_at', ARGV[3])
local n = appendEvent(KEYS[2], KEYS[3], ARGV[1], statusEntry('running', attempt))
local out = {'started', n}
for _, value in ipairs(redis.call('HGETALL', KEYS[1])) do out[#out + 1] = value end
return out
