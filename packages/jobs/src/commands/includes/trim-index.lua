--- @include "@spool/queue/commands/now-ms.lua"
-- A tenant's index of jobs keeps an ended job until its record expires: each end notes when, in
-- the tenant's expiry set, and drops from the index (at most 1,000 at a time) those already gone.
local function trimIndex(index, expiry)
  local gone = redis.call('ZRANGEBYSCORE', expiry, '-inf', nowMs(), 'LIMIT', 0, 1000)
  if #gone > 0 then
    redis.call('ZREM', index, unpack(gone))
    redis.call('ZREM', expiry, unpack(gone))
  end
  return #gone
end
