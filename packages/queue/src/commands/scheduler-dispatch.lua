-- KEYS: 1..6 as includes/dispatch.lua. ARGV: 1 the control slot's tag, 2 most jobs to release, 3 pending limit,
-- 4 a job that just passed the upstream gate ('' = none). Returns dispatch's answer.
--- @include "./includes/dispatch.lua"
if ARGV[4] ~= '' then redis.call('ZREM', KEYS[4], ARGV[4]) end
return dispatch(ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]))
