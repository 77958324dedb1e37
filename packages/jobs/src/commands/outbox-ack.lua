-- KEYS: 1 processing list, 2 claims hash. ARGV: 1 job id. An entry handled: unclaimed and gone.
-- Returns 1 if it was claimed, else 0.
redis.call('LREM', KEYS[1], 1, ARGV[1])
return redis.call('HDEL', KEYS[2], ARGV[1])
