-- KEYS: 1 the cache entry, 2 the merge leader, 3 the tenant's entries by expiry (ms), 4 the
-- tenant's entry sizes (field per request hash, and `total`). ARGV: 1 job id, 2 request hash,
-- 3 result JSON ('' = nothing to cache), 4 ttl s, 5 most bytes of cached results per tenant,
-- 6 '1' to leave an entry already there as it is, 7 the bytes the entry counts (its result and
-- what Redis spends to keep it: cacheEntryBytes).
-- A cache-opted job's call ended: its leadership goes (if it still holds it), and a result is
-- cached in the same step, so an identical job finds one or the other. The entry lives as long as
-- the longest ttl asked of it; `at` dates the result, and each reader applies its own ttl to it.
-- Returns 1 if the result was cached; 0 if not (none, kept, or over the tenant's bytes).
--- @include "@spool/queue/commands/now-ms.lua"
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
if ARGV[3] == '' then return 0 end
if ARGV[6] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local now = nowMs()
-- Entries gone since the last write give their bytes back (a hundred at a time: an undercount is safe).
local gone = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, 100)
local total = tonumber(redis.call('HGET', KEYS[4], 'total')) or 0
if #gone > 0 then
  for _, size in ipairs(redis.call('HMGET', KEYS[4], unpack(gone))) do total = total - (tonumber(size) or 0) end
  redis.call('ZREM', KEYS[3], unpack(gone))
  redis.call('HDEL', KEYS[4], unpack(gone))
end
local size = tonumber(ARGV[7])
local replaced = tonumber(redis.call('HGET', KEYS[4], ARGV[2])) or 0
if total - replaced + size > tonumber(ARGV[5]) then
  redis.call('HSET', KEYS[4], 'total', total)
  return 0
end
local ttlMs = math.max(tonumber(ARGV[4]) * 1000, redis.call('PTTL', KEYS[1]))
redis.call('HSET', KEYS[1], 'at', now, 'result', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ttlMs)
redis.call('ZADD', KEYS[3], now + ttlMs, ARGV[2])
redis.call('HSET', KEYS[4], ARGV[2], size, 'total', total - replaced + size)
-- The bookkeeping lives as long as the entry that lives longest.
local last = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[3], last[2])
redis.call('PEXPIREAT', KEYS[4], last[2])
return 1
