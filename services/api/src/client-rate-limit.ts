import type { RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import { ApiError } from '@spool/contracts';
import { coalesceWrites, type Keys } from '@spool/queue';

/**
 * GCRA over Redis time, shared by every API process. KEYS[1] the key's theoretical arrival time.
 * ARGV: 1 ms between requests, 2 burst tolerance ms. Returns {allowed, remaining, retry ms, reset ms}.
 */
const GCRA = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = math.max(tonumber(redis.call('GET', KEYS[1])) or now, now)
local next_tat = tat + interval
if next_tat - now > tolerance + interval then
  return {0, 0, math.ceil(next_tat - now - tolerance - interval), math.ceil(tat - now)}
end
redis.call('SET', KEYS[1], next_tat, 'PX', math.ceil(next_tat - now) + 1000)
return {1, math.floor((tolerance + interval - (next_tat - now)) / interval), 0, math.ceil(next_tat - now)}
`;

interface RateCommands {
  spoolClientRate(key: string, interval: number, tolerance: number): Promise<[number, number, number, number]>;
}

function seconds(ms: number): string {
  return `${Math.max(0, ms) / 1000}s`;
}

/**
 * `SPOOL_CLIENT_RPM` per API key (in open mode, for everyone together): up to a minute's worth at
 * once, refilled evenly. Answers carry `x-ratelimit-*`; a refusal is a 429 with `retry-after`.
 */
export function clientRateLimit(redis: Redis, keys: Keys, rpm: number): RequestHandler {
  if (!('spoolClientRate' in redis)) redis.defineCommand('spoolClientRate', { numberOfKeys: 1, lua: GCRA });
  const commands = redis as Redis & RateCommands;
  const interval = 60_000 / rpm;
  const tolerance = 60_000 - interval;
  return async (_req, res, next) => {
    try {
      coalesceWrites(redis);
      const [allowed, remaining, retryMs, resetMs] = await commands.spoolClientRate(keys.clientRate(res.locals.apiKeyId), interval, tolerance);
      res.setHeader('x-ratelimit-limit-requests', String(rpm));
      res.setHeader('x-ratelimit-remaining-requests', String(remaining));
      res.setHeader('x-ratelimit-reset-requests', seconds(resetMs));
      if (allowed) return next();
      const retryAfter = String(Math.max(1, Math.ceil(retryMs / 1000)));
      next(new ApiError(429, 'rate_limit_error', 'rate_limit_exceeded', `Rate limit of ${rpm} requests per minute reached; retry in ${retryAfter} s`, null, { 'retry-after': retryAfter }));
    } catch (error) {
      next(error);
    }
  };
}
