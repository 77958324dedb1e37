-- The write side of a job's event log; event-format.ts encodes and decodes the same entries.
-- An entry is `event\ndata` and its id its position in the list; the channel gets `id\nevent\ndata`,
-- by `publish`: PUBLISH, or SPUBLISH on a cluster (@spool/queue pubsub.ts; the channel is then a
-- declared key of the script, in the log's slot).
local function appendEvent(log, channel, publish, entry)
  local id = redis.call('RPUSH', log, entry)
  redis.call(publish, channel, id .. '\n' .. entry)
  return id
end

-- A `status` entry: StatusEventData of @spool/contracts.
local function statusEntry(status, attempt)
  return 'status\n{"status":"' .. status .. '","attempt":' .. attempt .. '}'
end
