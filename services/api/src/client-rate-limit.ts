import type { RequestHandler } from 'express';
import { ApiError } from '@spool/contracts';
import type { Config } from '@spool/config';
import { coalesceWrites, defineCommands, type Keys, type RedisClient } from '@spool/queue';

/** GCRA over Redis time, shared by every API process: commands/client-rate.lua (exported for its test). */
export const RATE_COMMANDS = { spoolClientRate: { numberOfKeys: 1, script: new URL('./commands/client-rate.lua', import.meta.url) } };

interface RateCommands {
  spoolClientRate(key: string, interval: number, tolerance: number): Promise<[number, number, number, number]>;
}

function seconds(ms: number): string {
  return `${Math.max(0, ms) / 1000}s`;
}

/**
 * `SPOOL_CLIENT_RPM` (or the tenant's `client_rpm`) per API key (in open mode, for everyone
 * together): up to a minute's worth at once, refilled evenly. Answers carry `x-ratelimit-*`; a refusal is a 429 with `retry-after`.
 */
export function clientRateLimit(redis: RedisClient, keys: Keys, config: Pick<Config, 'clientRpm' | 'tenants'>): RequestHandler {
  defineCommands(redis, RATE_COMMANDS);
  const commands = redis as RedisClient & RateCommands;
  return async (_req, res, next) => {
    try {
      const rpm = config.tenants.get(res.locals.tenant)?.clientRpm ?? config.clientRpm;
      const interval = 60_000 / rpm;
      const tolerance = 60_000 - interval;
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
