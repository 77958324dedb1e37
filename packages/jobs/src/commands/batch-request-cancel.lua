-- KEYS: 1 batch hash. Moves an in-progress batch to `cancelling`; returns the status after ('' if missing).
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return '' end
if status == 'in_progress' then
  redis.call('HSET', KEYS[1], 'status', 'cancelling')
  return 'cancelling'
end
return status
