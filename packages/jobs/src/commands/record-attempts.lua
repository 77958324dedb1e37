-- KEYS: 1 job hash. ARGV: 1 owner token, 2 the job's attempt log (JSON). Records the log for the
-- attempt holding the job. Returns 1, or -1 if this owner lost the job (or it ended).
--- @include "./includes/terminal.lua"
local current = redis.call('HMGET', KEYS[1], 'owner', 'status')
if current[1] ~= ARGV[1] or terminal(current[2]) then return -1 end
redis.call('HSET', KEYS[1], 'attempt_log', ARGV[2])
return 1
