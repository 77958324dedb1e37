-- A job leaves its tenant's quota: one job and its request's bytes; a quota with no job left goes.
local function releaseQuota(quota, bytes)
  if redis.call('HINCRBY', quota, 'jobs', -1) <= 0 then redis.call('DEL', quota)
  else redis.call('HINCRBY', quota, 'bytes', -tonumber(bytes)) end
end
