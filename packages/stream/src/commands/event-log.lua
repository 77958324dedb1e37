-- The write side of a job's event log; event-format.ts encodes and decodes the same entries.
-- An entry is `event\ndata` and its id its position in the list; the channel gets `id\nevent\ndata`.
local function appendEvent(log, channel, entry)
  local id = redis.call('RPUSH', log, entry)
  redis.call('PUBLISH', channel, id .. '\n' .. entry)
  return id
end

-- A `status` entry: StatusEventData of @spool/contracts.
local function statusEntry(status, attempt)
  return 'status\n{"status":"' .. status .. '","attempt":' .. attempt .. '}'
end
