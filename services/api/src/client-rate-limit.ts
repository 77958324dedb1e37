import type { Request, RequestHandler, Response } from 'express';
import { ApiError } from '@spool/contracts';
import type { Config } from '@spool/config';
import { coalesceWrites, defineCommands, type Keys, type RedisClient } from '@spool/queue';
import { RateAllowance, type RateReply } from './rate-allowance.js';

/** GCRA over Redis time, shared by every API process: commands/client-rate.lua (exported for its test). */
export const RATE_COMMANDS = { spoolClientRate: { numberOfKeys: 1, script: new URL('./commands/client-rate.lua', import.meta.url) } };

interface RateCommands {
  spoolClientRate(key: string, interval: number, tolerance: number, charge: number, extra: number, keep: number): Promise<[number, number, number, number, number]>;
}

function seconds(ms: number): string {
  return `${Math.max(0, ms) / 1000}s`;
}

/** The verdict of a request whose route reads it later (`admitted`): the refusal or failure, or null. */
const VERDICT = Symbol('spool.rateVerdict');

type LateResponse = Response & { [VERDICT]?: Promise<Error | null> };

/**
 * `SPOOL_CLIENT_RPM` (or the tenant's `client_rpm`) per API key (in open mode, for everyone
 * together): up to a minute's worth at once, refilled evenly. Answers carry `x-ratelimit-*`; a refusal is a 429 with `retry-after`.
 *
 * A request `late` picks (a submission) goes on while Redis answers: its route reads and validates
 * the body meanwhile, and awaits `admitted` before anything with an effect. The error handler
 * awaits the verdict too, so a refusal still wins over whatever else the request gets wrong.
 * A key with plenty of room is answered without waiting for Redis, from requests this process
 * prepaid there (rate-allowance.ts): never more than the limit, fleet-wide.
 */
export function clientRateLimit(redis: RedisClient, keys: Keys, config: Pick<Config, 'clientRpm' | 'tenants'>, late: (req: Request) => boolean = () => false): RequestHandler {
  defineCommands(redis, RATE_COMMANDS);
  const commands = redis as RedisClient & RateCommands;
  const allowances = new Map<string, RateAllowance>();
  /** The key's allowance on this process; its Redis check charges `charge` requests and prepays `extra`. */
  const allowanceOf = (apiKeyId: string, rpm: number): RateAllowance => {
    let allowance = allowances.get(apiKeyId);
    if (allowance?.rpm !== rpm) {
      const interval = 60_000 / rpm;
      const tolerance = 60_000 - interval;
      const key = keys.clientRate(apiKeyId);
      allowance = new RateAllowance(rpm, async (charge, extra, keep): Promise<RateReply> => {
        coalesceWrites(redis);
        const [allowed, remaining, retryMs, resetMs, prepaid] = await commands.spoolClientRate(key, interval, tolerance, charge, extra, keep);
        return { allowed: allowed === 1, remaining, retryMs, resetMs, prepaid };
      });
      allowances.set(apiKeyId, allowance);
    }
    return allowance;
  };
  /** null when allowed; the 429, or what kept Redis from answering. Headers are set on `res` either way. */
  const verdict = async (res: Response): Promise<Error | null> => {
    try {
      const rpm = config.tenants.get(res.locals.tenant)?.clientRpm ?? config.clientRpm;
      const { allowed, remaining, retryMs, resetMs } = await allowanceOf(res.locals.apiKeyId, rpm).admit();
      res.setHeader('x-ratelimit-limit-requests', String(rpm));
      res.setHeader('x-ratelimit-remaining-requests', String(remaining));
      res.setHeader('x-ratelimit-reset-requests', seconds(resetMs));
      if (allowed) return null;
      const retryAfter = String(Math.max(1, Math.ceil(retryMs / 1000)));
      return new ApiError(429, 'rate_limit_error', 'rate_limit_exceeded', `Rate limit of ${rpm} requests per minute reached; retry in ${retryAfter} s`, null, { 'retry-after': retryAfter });
    } catch (error) {
      return error as Error;
    }
  };
  return (req, res, next) => {
    const pending = verdict(res);
    if (late(req)) {
      (res as LateResponse)[VERDICT] = pending;
      next();
      return;
    }
    void pending.then((refusal) => next(refusal ?? undefined));
  };
}

/** Throws the rate limit's refusal (or Redis's failure) of a request that went on while it was decided; nothing else does. */
export async function admitted(res: Response): Promise<void> {
  const refusal = await (res as LateResponse)[VERDICT];
  if (refusal) throw refusal;
}

/** The refusal of a request whose verdict came late, which its error answer must be instead; null when admitted or decided before. */
export function lateRefusal(res: Response): Promise<Error | null> {
  return (res as LateResponse)[VERDICT] ?? Promise.resolve(null);
}
