-- Fleet-wide counts that the API's /metrics reads at scrape time, O(1) per ended job: jobs by
-- final status (hash `jobs`), and tokens by `<kind>:<tenant>` (hash `tokens`, kind prompt or completion).
local function countFleet(jobs, tokens, status, tenant, prompt, completion)
  redis.call('HINCRBY', jobs, status, 1)
  if tonumber(prompt) > 0 then redis.call('HINCRBY', tokens, 'prompt:' .. tenant, prompt) end
  if tonumber(completion) > 0 then redis.call('HINCRBY', tokens, 'completion:' .. tenant, completion) end
end
