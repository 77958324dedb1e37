/**
 * Lua scripts that move a job's state and append to its event log in one step, so the log and
 * the record never disagree. KEYS are always: 1 job hash, 2 event list, 3 events channel.
 * A log entry is `event\ndata`; a published message is `id\nevent\ndata`.
 */
const appendEvent = `
local function append(entry)
  local n = redis.call('RPUSH', KEYS[2], entry)
  redis.call('PUBLISH', KEYS[3], n .. '\\n' .. entry)
  return n
end
local function terminal(status)
  return status == 'succeeded' or status == 'failed' or status == 'cancelled'
end
`;

/** ARGV: 1 tenant-jobs key, 2 counter key, 3 job id, 4 queued entry, 5.. field/value pairs. */
export const CREATE = `${appendEvent}
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local seq = redis.call('INCR', ARGV[2])
redis.call('HSET', KEYS[1], 'seq', seq, unpack(ARGV, 5))
redis.call('ZADD', ARGV[1], seq, ARGV[3])
append(ARGV[4])
return seq
`;

/** ARGV: 1 owner token, 2 now. Returns {'missing'} | {'ended'} | {'started', events, field, value, ...}. */
export const START = `${appendEvent}
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'missing'} end
if terminal(status) then return {'ended'} end
local attempt = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'status', 'running', 'owner', ARGV[1])
redis.call('HSETNX', KEYS[1], 'started_at', ARGV[2])
local n = append('status\\n{"status":"running","attempt":' .. attempt .. '}')
local out = {'started', n}
for _, value in ipairs(redis.call('HGETALL', KEYS[1])) do out[#out + 1] = value end
return out
`;

/**
 * ARGV: 1 owner token, 2 how the reply ended ('' = it has not), 3.. entries. Returns the last
 * event id (0 with no entries), or -1 if this owner lost the job.
 */
export const APPEND = `${appendEvent}
local current = redis.call('HMGET', KEYS[1], 'owner', 'status')
if current[1] ~= ARGV[1] or terminal(current[2]) then return -1 end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'stream_end', ARGV[2]) end
local n = 0
for i = 3, #ARGV do n = append(ARGV[i]) end
return n
`;

/**
 * ARGV: 1 owner token, 2 '1' to give the attempt back (it was not the job's fault), 3 entry.
 * Hands the job back to the queue for another attempt.
 */
export const REQUEUE = `${appendEvent}
local current = redis.call('HMGET', KEYS[1], 'owner', 'status')
if current[1] ~= ARGV[1] or terminal(current[2]) then return -1 end
redis.call('HDEL', KEYS[1], 'owner')
redis.call('HSET', KEYS[1], 'status', 'queued')
if ARGV[2] == '1' then
  redis.call('HINCRBY', KEYS[1], 'attempts', -1)
  redis.call('HINCRBY', KEYS[1], 'deferrals', 1)
end
return append(ARGV[3])
`;

/**
 * KEYS[4] the outbox. ARGV: 1 owner token ('' = whoever holds it), 2 expected event count
 * ('' = any), 3 done entry, 4 events ttl s, 5 job ttl s, 6 job id, 7.. field/value pairs.
 * The job id goes to the outbox in the same step, so its side effects are never forgotten.
 * Returns the done event's id; -1 if it had already ended or the owner lost it; -2 if missing;
 * -3 if the log moved on since the caller read it (read again and retry).
 */
export const FINISH = `${appendEvent}
local current = redis.call('HMGET', KEYS[1], 'owner', 'status')
if not current[2] then return -2 end
if terminal(current[2]) then return -1 end
if ARGV[1] ~= '' and current[1] ~= ARGV[1] then return -1 end
if ARGV[2] ~= '' and redis.call('LLEN', KEYS[2]) ~= tonumber(ARGV[2]) then return -3 end
redis.call('HDEL', KEYS[1], 'owner')
redis.call('HSET', KEYS[1], unpack(ARGV, 7))
local n = append(ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('LPUSH', KEYS[4], ARGV[6])
return n
`;

/** No ARGV. The record and the whole log in one step: {log entries, field, value, ...}. */
export const SNAPSHOT = `
return {redis.call('LRANGE', KEYS[2], 0, -1), unpack(redis.call('HGETALL', KEYS[1]))}
`;
