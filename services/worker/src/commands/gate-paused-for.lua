-- KEYS: 1 the gate hash. Returns ms left of the current pause (<= 0: none).
--- @include "@spool/queue/commands/now-ms.lua"
return (tonumber(redis.call('HGET', KEYS[1], 'paused_until')) or 0) - nowMs()
