-- The fair scheduler's release step, shared by ENQUEUE and DISPATCH.
-- KEYS: 1 tenants with waiting jobs (by pass), 2 the scheduler hash (vtime), 3 released jobs,
-- 4 released jobs not yet past the upstream gate, 5 live workers (by heartbeat expiry),
-- 6 each worker's slots, 7 released jobs handed back or backing off (by when their wait ends).
-- Per-tenant keys are `<control>:tenant:<name>:waiting|running|deferred|schedule|estimates`,
-- `<control>` the control slot's hash tag (`{prefix}`, ARGV 1): every key here is in that slot.
--
-- Stride scheduling: each tenant has a pass; the eligible tenant with the lowest pass releases
-- its best job and its pass grows by 1/weight, so backlogged tenants are served in proportion to
-- their weights however much each has queued. A tenant that had nothing waiting starts at the
-- fleet's virtual time (no credit saved up while idle). A tenant held by its own limits
-- (max_concurrency, rpm, tpm) is skipped: it never holds back another tenant.
--
-- A released job waiting out a delay (handed back until its upstream's pause ends, or backing off
-- before a retry) holds no worker slot until its wait ends: it sits in BullMQ's delayed set, and
-- jobs that can run (for a model another upstream serves, of any tenant) take the slot. Those
-- jobs come back past the tenants' lines when their waits end, so a tenant with as many of them
-- as the fleet has slots is held (fewer than two rounds come back ahead of the others: it is
-- eligible with slots - 1 of them, and the jobs it runs then may wait too; and a pause of every
-- upstream does not empty its line into the delayed set). Such a job still counts
-- against its tenant's max_concurrency (it stays in the running set): the limit bounds what of
-- the tenant runs when those waits end together.
--- @include "@spool/queue/commands/now-ms.lua"

-- released jobs not past the gate for longer than this are no longer counted (their worker died, or they wait out a backoff)
local PENDING_TTL_MS = 10000
-- tenants read at once, lowest passes first
local CANDIDATES = 64

local function tenantKey(prefix, tenant, name)
  return prefix .. ':tenant:' .. tenant .. ':' .. name
end

-- Slots of live workers, fleet-wide; expired workers are forgotten.
local function fleetSlots(now)
  local expired = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now)
  if #expired > 0 then
    redis.call('ZREM', KEYS[5], unpack(expired))
    redis.call('HDEL', KEYS[6], unpack(expired))
  end
  local live = redis.call('ZRANGE', KEYS[5], 0, -1)
  if #live == 0 then return 0 end
  local total = 0
  for _, slots in ipairs(redis.call('HMGET', KEYS[6], unpack(live))) do total = total + (tonumber(slots) or 0) end
  return total
end

-- Puts a tenant that has nothing waiting into the line at the fleet's virtual time.
local function activate(prefix, tenant)
  if redis.call('ZSCORE', KEYS[1], tenant) then return end
  local pass = tonumber(redis.call('HGET', tenantKey(prefix, tenant, 'schedule'), 'pass')) or 0
  local vtime = tonumber(redis.call('HGET', KEYS[2], 'vtime')) or 0
  redis.call('ZADD', KEYS[1], math.max(pass, vtime), tenant)
end

-- Releases up to `most` jobs while the fleet has free slots; returns {wait hint ms (-1: none), id, tenant, id, tenant, ...}.
local function dispatch(prefix, most, pendingLimit)
  local now = nowMs()
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - PENDING_TTL_MS)
  local slots = fleetSlots(now)
  local free = slots - (redis.call('ZCARD', KEYS[3]) - redis.call('ZCOUNT', KEYS[7], '(' .. now, '+inf'))
  local pending = redis.call('ZCARD', KEYS[4])
  local out = { -1 }
  local hint = -1
  local count = 0
  -- Tenants found held by their own limits stay held for the rest of this step (their running
  -- sets only grow, their ready times only move later): each is looked at once, and passed over.
  local held = {}
  while free > 0 and count < most and pending < pendingLimit do
    local chosen
    local offset = 0
    -- However many held tenants come first, the lowest pass with room is found: page on past them.
    while not chosen do
      local candidates = redis.call('ZRANGE', KEYS[1], offset, offset + CANDIDATES - 1, 'WITHSCORES')
      if #candidates == 0 then break end
      local removed = 0
      for i = 1, #candidates, 2 do
        local tenant = candidates[i]
        if not held[tenant] then
          local waiting = tenantKey(prefix, tenant, 'waiting')
          if redis.call('EXISTS', waiting) == 0 then
            redis.call('ZREM', KEYS[1], tenant)
            removed = removed + 1
          else
            local s = redis.call('HMGET', tenantKey(prefix, tenant, 'schedule'), 'max_concurrency', 'next_request', 'next_token')
            local limit = tonumber(s[1])
            local ready = math.max(tonumber(s[2]) or 0, tonumber(s[3]) or 0)
            if ready > now then
              if hint < 0 or ready - now < hint then hint = math.ceil(ready - now) end
              held[tenant] = true
            elseif (not limit or redis.call('ZCARD', tenantKey(prefix, tenant, 'running')) < limit)
              and redis.call('ZCOUNT', tenantKey(prefix, tenant, 'deferred'), '(' .. now, '+inf') < slots then
              chosen = { tenant, tonumber(candidates[i + 1]) }
              break
            else
              held[tenant] = true
            end
          end
        end
      end
      offset = offset + #candidates / 2 - removed
    end
    if not chosen then break end
    local tenant, pass = chosen[1], chosen[2]
    local waiting = tenantKey(prefix, tenant, 'waiting')
    local schedule = tenantKey(prefix, tenant, 'schedule')
    local id = redis.call('ZPOPMIN', waiting)[1]
    local s = redis.call('HMGET', schedule, 'weight', 'rpm_gap', 'tpm_gap', 'next_request', 'next_token')
    local weight = tonumber(s[1]) or 1
    local rpmGap, tpmGap = tonumber(s[2]), tonumber(s[3])
    if rpmGap then redis.call('HSET', schedule, 'next_request', math.max(now, tonumber(s[4]) or 0) + rpmGap) end
    if tpmGap then
      local estimates = tenantKey(prefix, tenant, 'estimates')
      local tokens = tonumber(redis.call('HGET', estimates, id)) or 0
      redis.call('HSET', schedule, 'next_token', math.max(now, tonumber(s[5]) or 0) + tokens * tpmGap)
      -- what this job was charged, for the correction when it ends (scheduler-charge-tokens.lua)
      redis.call('HSET', estimates, 'charged:' .. id, tokens)
    end
    redis.call('HDEL', tenantKey(prefix, tenant, 'estimates'), id)
    redis.call('HSET', schedule, 'pass', pass + 1 / weight)
    redis.call('HSET', KEYS[2], 'vtime', math.max(pass, tonumber(redis.call('HGET', KEYS[2], 'vtime')) or 0))
    if redis.call('EXISTS', waiting) == 1 then
      redis.call('ZADD', KEYS[1], pass + 1 / weight, tenant)
    else
      redis.call('ZREM', KEYS[1], tenant)
    end
    redis.call('ZADD', tenantKey(prefix, tenant, 'running'), now, id)
    redis.call('ZADD', KEYS[3], now, id)
    redis.call('ZADD', KEYS[4], now, id)
    out[#out + 1] = id
    out[#out + 1] = tenant
    count = count + 1
    free = free - 1
    pending = pending + 1
  end
  out[1] = hint
  return out
end
