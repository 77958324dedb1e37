-- Redis time in whole ms: every host's scripts share one clock, whatever the hosts' own say.
local function nowMs()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
