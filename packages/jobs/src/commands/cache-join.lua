-- KEYS: 1 the cache entry, 2 the merge leader. ARGV: 1 job id, 2 how old a cached reply may be, ms
-- ('' = do not read the cache), 3 the leader this job saw end ('' = none), 4 the leader's lease, s.
-- What a cache-opted job does next, decided in one step so that no identical job slips in between
-- the cache and the leader: {'hit', result JSON} | {'follow', leader's job id} | {'lead'}. A
-- leader that ended (ARGV 3), or a key left by one, is taken over; the lease only bounds a key
-- whose leader died without ending.
--- @include "@spool/queue/commands/now-ms.lua"
if ARGV[2] ~= '' then
  local entry = redis.call('HMGET', KEYS[1], 'at', 'result')
  if entry[1] and nowMs() - tonumber(entry[1]) < tonumber(ARGV[2]) then return {'hit', entry[2]} end
end
local leader = redis.call('GET', KEYS[2])
if leader and leader ~= ARGV[1] and leader ~= ARGV[3] then return {'follow', leader} end
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[4])
return {'lead'}
