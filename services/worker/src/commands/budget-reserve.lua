-- KEYS: 1 the tenant's spend hash for this month, 2 the job's reservation hash. ARGV: 1 this
-- attempt's token, 2 its worst case (nano-USD, whole), 3 the tenant's budget (nano-USD; '' =
-- none), 4.. the reservation's own fields (field, value, ...: tenant, month, model, ...).
-- Reserves the worst case against the budget: spent and reserved together never pass it, so a
-- budget is never overspent however many attempts reserve at once. Returns 1 reserved (or this
-- token holds it already); 0 refused: the budget cannot pay the worst case; -1 the job still
-- holds an earlier attempt's reservation (its worker died): settle that first; -2 the month has
-- no spend hash yet (a new month, or Redis lost it): seed it first.
local held = redis.call('HGET', KEYS[2], 'token')
if held then
  if held == ARGV[1] then return 1 end
  return -1
end
if redis.call('EXISTS', KEYS[1]) == 0 then return -2 end
if ARGV[3] ~= '' then
  local spend = redis.call('HMGET', KEYS[1], 'spent', 'reserved')
  local committed = (tonumber(spend[1]) or 0) + math.max(0, tonumber(spend[2]) or 0)
  if committed + tonumber(ARGV[2]) > tonumber(ARGV[3]) then return 0 end
end
redis.call('HINCRBY', KEYS[1], 'reserved', ARGV[2])
redis.call('HSET', KEYS[2], 'token', ARGV[1], 'amount', ARGV[2], unpack(ARGV, 4))
-- Settled when the attempt ends, or when the job is taken over or ends; by then the month is over.
redis.call('EXPIRE', KEYS[2], 40 * 24 * 3600)
return 1
