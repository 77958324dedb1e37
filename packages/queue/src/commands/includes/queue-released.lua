-- Puts released jobs on the chat queue in the script that released them: what BullMQ's
-- addStandardJob does for a job with a custom id (its own fragments, from the installed bullmq),
-- so no worker can find a job released and not yet queued, and the submission saves a round trip.
-- The queue's keys are `<queue><name>` (`{spool}:chat:wait`, ...), in the control slot.
local rcall = redis.call
--- @include "bullmq/dist/esm/commands/includes/storeJob.lua"
--- @include "bullmq/dist/esm/commands/includes/addJobInTargetList.lua"
--- @include "bullmq/dist/esm/commands/includes/isQueuePausedOrMaxed.lua"
--- @include "bullmq/dist/esm/commands/includes/getOrSetMaxEvents.lua"

-- `released` is dispatch's answer (hint, then id, tenant pairs); `options` the entries' stored
-- options without their id (JSON); `carried` each job's data by id where it has more than its id.
-- A job already on the queue is left as it is, as BullMQ leaves a duplicate id.
local function queueReleased(queue, options, released, carried)
  if #released < 2 then return end
  local meta, events = queue .. 'meta', queue .. 'events'
  local maxEvents = getOrSetMaxEvents(meta)
  local pausedOrMaxed = isQueuePausedOrMaxed(meta, queue .. 'active')
  local opts = cjson.decode(options)
  local timestamp = nowMs()
  for i = 2, #released, 2 do
    local id = released[i]
    rcall('INCR', queue .. 'id')
    if rcall('EXISTS', queue .. id) == 0 then
      opts['jobId'] = id
      storeJob(events, queue .. id, id, 'chat', carried[id] or cjson.encode({ jobId = id }), opts, timestamp)
      addJobInTargetList(queue .. 'wait', queue .. 'marker', 'LPUSH', pausedOrMaxed, id)
      rcall('XADD', events, 'MAXLEN', '~', maxEvents, '*', 'event', 'waiting', 'jobId', id)
    end
  end
end
