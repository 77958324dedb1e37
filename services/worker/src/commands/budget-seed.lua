-- KEYS: 1 a tenant's spend hash for one month. ARGV: 1 when it expires (Unix s), 2.. its fields
-- (field, value, ...): the month's spend as the store has it. Creates the hash unless another
-- worker did first. Returns 1 created, 0 there already.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'reserved', 0, unpack(ARGV, 2))
redis.call('EXPIREAT', KEYS[1], ARGV[1])
return 1
