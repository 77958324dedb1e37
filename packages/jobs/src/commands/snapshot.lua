-- KEYS: 1 job hash, 2 event list. The record and the whole log in one step: {log entries, field, value, ...}.
return {redis.call('LRANGE', KEYS[2], 0, -1), unpack(redis.call('HGETALL', KEYS[1]))}
