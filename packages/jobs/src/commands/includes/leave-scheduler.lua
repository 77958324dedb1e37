-- A job that ends (or is removed) leaves the fair scheduler's sets: its tenant's line (a queued
-- job cancelled), its tenant's running and deferred sets and the fleet's released, pending and
-- deferred sets (its slot is free for the next release).
local function leaveScheduler(waiting, running, released, pending, deferred, tenantDeferred, id)
  redis.call('ZREM', waiting, id)
  redis.call('ZREM', running, id)
  redis.call('ZREM', released, id)
  redis.call('ZREM', pending, id)
  redis.call('ZREM', deferred, id)
  redis.call('ZREM', tenantDeferred, id)
end
