-- KEYS: 1 job hash, 2 event list (the job's slot). The job was admitted (admit.lua): its record
-- and log last until it ends, unless it ended already (finish.lua gave them their expiry).
-- Returns 1 made lasting; 0 ended or gone.
--- @include "./includes/terminal.lua"
local status = redis.call('HGET', KEYS[1], 'status')
if not status or terminal(status) then return 0 end
redis.call('PERSIST', KEYS[1])
redis.call('PERSIST', KEYS[2])
return 1
