-- KEYS: 1 batch hash, 2 ended set, 3 results list, 4 job list. ARGV: 1 job id, 2 result line,
-- 3 '1' if it failed (or was cancelled), 4 now, 5 ttl s, 6 its cost (USD). Records an ended request once however
-- often it is replayed (the SADD decides), and ends the batch when every request has ended.
-- Returns the batch hash after the change, empty if there is no batch.
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
if redis.call('SADD', KEYS[2], ARGV[1]) == 1 then
  redis.call('RPUSH', KEYS[3], ARGV[2])
  redis.call('HINCRBY', KEYS[1], ARGV[3] == '1' and 'failed' or 'completed', 1)
  if ARGV[6] and tonumber(ARGV[6]) ~= 0 then redis.call('HINCRBYFLOAT', KEYS[1], 'cost_usd', ARGV[6]) end
  if redis.call('SCARD', KEYS[2]) >= tonumber(redis.call('HGET', KEYS[1], 'total')) then
    local status = redis.call('HGET', KEYS[1], 'status')
    redis.call('HSET', KEYS[1], 'status', status == 'cancelling' and 'cancelled' or 'completed', 'completed_at', ARGV[4])
    for i = 1, 4 do redis.call('EXPIRE', KEYS[i], ARGV[5]) end
  end
end
return redis.call('HGETALL', KEYS[1])
