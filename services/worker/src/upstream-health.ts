import { classifyUpstreamError } from '@spool/llm';
import { defineCommands, type Keys, type RedisClient } from '@spool/queue';

export interface UpstreamHealthOptions {
  /** failed calls in a row (5xx, timeout, connection error) that take an upstream out; default 5 */
  failuresToOut?: number;
  /** how long an upstream stays out before one trial call may go; default 30 s */
  outMs?: number;
  /** how long a trial call may take before another call may try instead; default 125 s (a call's 120 s and a margin) */
  trialLeaseMs?: number;
}

/** What a call says of its upstream's health: it answered, it failed (5xx, timeout, connection), or nothing (aborted). */
export type CallHealth = 'ok' | 'failed' | 'neutral';

export function callHealth(error?: unknown): CallHealth {
  if (error === undefined) return 'ok';
  const classified = classifyUpstreamError(error);
  if (classified.code === 'interrupted') return 'neutral';
  if (classified.code === 'upstream_error' || classified.code === 'upstream_timeout') return 'failed';
  return 'ok';
}

/** What `claimTrial` found: the upstream is in, this call is its trial, or it is still out. */
export type TrialClaim = 'in' | 'trial' | 'out';

const script = (name: string) => new URL(`./commands/${name}.lua`, import.meta.url);

/** KEYS: 1 an upstream's health hash (`keys.upstreamHealth(name)`). */
const HEALTH_COMMANDS = {
  spoolHealthRecord: { numberOfKeys: 1, script: script('health-record') },
  spoolHealthClaimTrial: { numberOfKeys: 1, script: script('health-claim-trial') },
};

interface HealthCommands {
  spoolHealthRecord(key: string, health: CallHealth, trial: string, failuresToOut: number, outMs: number): Promise<[number, number]>;
  spoolHealthClaimTrial(key: string, leaseMs: number): Promise<number>;
}

/**
 * Each upstream's health, in Redis so that every worker agrees: `failuresToOut` failed calls in a
 * row take it out for `outMs`; then one trial call may go, and its success brings it back.
 */
export class UpstreamHealth {
  readonly failuresToOut: number;
  readonly outMs: number;
  private readonly trialLeaseMs: number;
  private readonly redis: RedisClient & HealthCommands;

  constructor(redis: RedisClient, private readonly keys: Keys, options: UpstreamHealthOptions = {}) {
    defineCommands(redis, HEALTH_COMMANDS);
    this.redis = redis as RedisClient & HealthCommands;
    this.failuresToOut = options.failuresToOut ?? 5;
    this.outMs = options.outMs ?? 30_000;
    this.trialLeaseMs = options.trialLeaseMs ?? 125_000;
  }

  /** Claims the trial call of an upstream whose window out has passed. */
  async claimTrial(upstream: string): Promise<TrialClaim> {
    const claimed = await this.redis.spoolHealthClaimTrial(this.keys.upstreamHealth(upstream), this.trialLeaseMs);
    return claimed === 2 ? 'in' : claimed === 1 ? 'trial' : 'out';
  }

  /** Records how a call went; resolves with the failed calls in a row and whether that took (or keeps) the upstream out. */
  async record(upstream: string, health: CallHealth, trial: boolean): Promise<{ failures: number; out: boolean }> {
    const [failures, outUntil] = await this.redis.spoolHealthRecord(this.keys.upstreamHealth(upstream), health, trial ? '1' : '0', this.failuresToOut, this.outMs);
    return { failures, out: outUntil > 0 };
  }
}
