-- Fleet-wide counts that the API's /metrics reads at scrape time, O(1) per ended job: jobs by
-- final status (hash `jobs`), and tokens by `<kind>:<tenant>` (hash `tokens`, kind prompt or completion).
local function countFleet(jobs, tokens, job, prompt, completion)
  local ended = redis.call('HMGET', job, 'status', 'tenant')
  local tenant = ended[2] or ''
  redis.call('HINCRBY', jobs, ended[1], 1)
  if tonumber(prompt) > 0 then redis.call('HINCRBY', tokens, 'prompt:' .. tenant, prompt) end
  if tonumber(completion) > 0 then redis.call('HINCRBY', tokens, 'completion:' .. tenant, completion) end
end
