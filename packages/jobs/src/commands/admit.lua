-- KEYS: 1 the tenant's quota, 2 the submission counter, 3 the tenant's index, 4 the tenant's
-- estimates (the control slot). ARGV: 1 job id, 2 the request's bytes, 3 most jobs not yet ended,
-- 4 most bytes of their requests, 5 the job's estimated tokens (its TPM charge at release).
-- Counts a recorded job (create.lua) against its tenant's quota until its end (ended.lua), and
-- gives it its submission order.
-- Returns the job's submission order; -1 if it was admitted already; -2 over the jobs quota; -3
-- over the bytes quota.
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 or redis.call('ZSCORE', KEYS[3], ARGV[1]) then return -1 end
local held = redis.call('HMGET', KEYS[1], 'jobs', 'bytes')
if (tonumber(held[1]) or 0) >= tonumber(ARGV[3]) then return -2 end
if (tonumber(held[2]) or 0) + tonumber(ARGV[2]) > tonumber(ARGV[4]) then return -3 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[1], 'jobs', 1)
redis.call('HINCRBY', KEYS[1], 'bytes', ARGV[2])
local seq = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[3], seq, ARGV[1])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[5])
return seq
