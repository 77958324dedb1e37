-- KEYS: 1..7 as includes/dispatch.lua. ARGV: 1 the control slot's tag, 2 most jobs to release, 3 pending limit,
-- 4 the chat queue's key prefix, 5 its entries' options (queue-released.lua), 6 a job that just
-- passed the upstream gate ('' = none). Returns dispatch's answer; the released jobs are on the queue.
--- @include "./includes/dispatch.lua"
--- @include "./includes/queue-released.lua"
if ARGV[6] ~= '' then redis.call('ZREM', KEYS[4], ARGV[6]) end
local released = dispatch(ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]))
queueReleased(ARGV[4], ARGV[5], released, {})
return released
