-- KEYS: 1 live workers, 2 worker slots. ARGV: 1 worker id, 2 its slots (0: it is leaving), 3 ms
-- until it counts as gone unless it beats again.
--- @include "@spool/queue/commands/now-ms.lua"
if tonumber(ARGV[2]) == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  return 0
end
redis.call('ZADD', KEYS[1], nowMs() + tonumber(ARGV[3]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
