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

/**
 * A tenant's index of jobs keeps an ended job until its record expires: each end notes when, in
 * the tenant's expiry set, and drops from the index (at most 1,000 at a time) those already gone.
 */
const tenantIndex = `
local function nowMs()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local function trimIndex(index, expiry)
  local gone = redis.call('ZRANGEBYSCORE', expiry, '-inf', nowMs(), 'LIMIT', 0, 1000)
  if #gone > 0 then
    redis.call('ZREM', index, unpack(gone))
    redis.call('ZREM', expiry, unpack(gone))
  end
  return #gone
end
`;

/**
 * KEYS: 4 the tenant's index, 5 the submission counter, 6 the tenant's quota. ARGV: 1 job id,
 * 2 queued entry, 3 the request's bytes, 4 most jobs not yet ended, 5 most bytes of their requests,
 * 6.. field/value pairs. The job counts against its tenant's quota until FINISH.
 * Returns the job's submission order; -1 if it exists; -2 over the jobs quota; -3 over the bytes quota.
 */
export const CREATE = `${appendEvent}
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local held = redis.call('HMGET', KEYS[6], 'jobs', 'bytes')
if (tonumber(held[1]) or 0) >= tonumber(ARGV[4]) then return -2 end
if (tonumber(held[2]) or 0) + tonumber(ARGV[3]) > tonumber(ARGV[5]) then return -3 end
redis.call('HINCRBY', KEYS[6], 'jobs', 1)
redis.call('HINCRBY', KEYS[6], 'bytes', ARGV[3])
local seq = redis.call('INCR', KEYS[5])
redis.call('HSET', KEYS[1], 'seq', seq, 'quota_bytes', ARGV[3], unpack(ARGV, 6))
redis.call('ZADD', KEYS[4], seq, ARGV[1])
append(ARGV[2])
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
 * KEYS: 4 the outbox, 5 the tenant's quota, 6 the tenant's index, 7 its expiry set.
 * ARGV: 1 owner token ('' = whoever holds it), 2 expected event count ('' = any), 3 done entry,
 * 4 events ttl s, 5 job ttl s, 6 job id, 7.. field/value pairs.
 * The job id goes to the outbox in the same step, so its side effects are never forgotten; the
 * job leaves its tenant's quota (it ends once, so once). Returns the done event's id; -1 if it had
 * already ended or the owner lost it; -2 if missing; -3 if the log moved on since the caller read
 * it (read again and retry).
 */
export const FINISH = `${appendEvent}${tenantIndex}
local current = redis.call('HMGET', KEYS[1], 'owner', 'status')
if not current[2] then return -2 end
if terminal(current[2]) then return -1 end
if ARGV[1] ~= '' and current[1] ~= ARGV[1] then return -1 end
if ARGV[2] ~= '' and redis.call('LLEN', KEYS[2]) ~= tonumber(ARGV[2]) then return -3 end
redis.call('HDEL', KEYS[1], 'owner')
redis.call('HSET', KEYS[1], unpack(ARGV, 7))
local n = append(ARGV[3])
-- The record outlives the log: an SSE resume after the log expired still knows the done's id.
redis.call('HSET', KEYS[1], 'done_event_id', n)
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('LPUSH', KEYS[4], ARGV[6])
local bytes = redis.call('HGET', KEYS[1], 'quota_bytes')
if bytes then
  if redis.call('HINCRBY', KEYS[5], 'jobs', -1) <= 0 then redis.call('DEL', KEYS[5])
  else redis.call('HINCRBY', KEYS[5], 'bytes', -tonumber(bytes)) end
end
redis.call('ZADD', KEYS[7], nowMs() + ARGV[5] * 1000, ARGV[6])
trimIndex(KEYS[6], KEYS[7])
return n
`;

/**
 * KEYS: 1 job hash, 2 event list, 3 the tenant's index, 4 the tenant's quota. ARGV: 1 job id.
 * Removes a job that never ran (a batch rolled back) and gives back what it held of the quota.
 * Deletions come first: under maxmemory a script may go on writing once it has written.
 */
export const REMOVE = `
local held = redis.call('HMGET', KEYS[1], 'quota_bytes', 'status')
redis.call('UNLINK', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
local ended = held[2] == 'succeeded' or held[2] == 'failed' or held[2] == 'cancelled'
if held[1] and not ended then
  if redis.call('HINCRBY', KEYS[4], 'jobs', -1) <= 0 then redis.call('DEL', KEYS[4])
  else redis.call('HINCRBY', KEYS[4], 'bytes', -tonumber(held[1])) end
end
return 1
`;

/** KEYS: 1 a tenant's index, 2 its expiry set. Drops up to 1,000 expired jobs; returns how many. */
export const TRIM_INDEX = `${tenantIndex}
return trimIndex(KEYS[1], KEYS[2])
`;

/** No ARGV. The record and the whole log in one step: {log entries, field, value, ...}. */
export const SNAPSHOT = `
return {redis.call('LRANGE', KEYS[2], 0, -1), unpack(redis.call('HGETALL', KEYS[1]))}
`;
