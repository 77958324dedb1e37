import type { Keys, RedisClient } from '@spool/queue';

/**
 * Money is counted in Redis as whole nano-dollars: integers add up without float drift, and a
 * price given to three decimals per million tokens ($0.075/Mtok) is a whole number per token.
 */
export const NANO_USD_PER_USD = 1_000_000_000;

export function toNanoUsd(usd: number): number {
  return Math.round(usd * NANO_USD_PER_USD);
}

export function fromNanoUsd(nanoUsd: number): number {
  return nanoUsd / NANO_USD_PER_USD;
}

/** The budget period an instant falls in: its calendar month in UTC, `YYYY-MM`. */
export function spendMonth(ms = Date.now()): string {
  return new Date(ms).toISOString().slice(0, 7);
}

/** Where a month starts, in Unix seconds (UTC). */
export function monthStartSeconds(month: string): number {
  const [year, index] = month.split('-').map(Number);
  return Date.UTC(year, index - 1, 1) / 1000;
}

/** Where the month after `month` starts, in Unix seconds (UTC). */
export function nextMonthStartSeconds(month: string): number {
  const [year, index] = month.split('-').map(Number);
  return Date.UTC(year, index, 1) / 1000;
}

/** Whole seconds from `ms` until its month ends (UTC): how long a spent budget stays spent; at least 1. */
export function secondsUntilMonthEnds(ms = Date.now()): number {
  return Math.max(1, Math.ceil(nextMonthStartSeconds(spendMonth(ms)) - ms / 1000));
}

/**
 * A tenant's spend in one month, as the spend hash (`keys.tenantSpend`) holds it: what settled
 * attempts cost, what attempts upstream now have reserved, and the calls and tokens billed.
 */
export interface TenantSpend {
  spentNanoUsd: number;
  reservedNanoUsd: number;
  requests: number;
  promptTokens: number;
  completionTokens: number;
}

/** The spend hash's fields, by what they count. */
export const SPEND_FIELDS = {
  spent: 'spent',
  reserved: 'reserved',
  requests: 'requests',
  promptTokens: 'prompt_tokens',
  completionTokens: 'completion_tokens',
} as const;

const FIELD_NAMES = Object.values(SPEND_FIELDS);

export const NO_SPEND: TenantSpend = { spentNanoUsd: 0, reservedNanoUsd: 0, requests: 0, promptTokens: 0, completionTokens: 0 };

/** An HMGET of `SPEND_FIELDS` as spend; null when the hash does not exist (all nulls). */
export function parseTenantSpend(values: (string | null)[]): TenantSpend | null {
  if (values.every((value) => value === null)) return null;
  const [spent, reserved, requests, prompt, completion] = values.map((value) => Number(value ?? 0));
  return { spentNanoUsd: spent, reservedNanoUsd: Math.max(0, reserved), requests, promptTokens: prompt, completionTokens: completion };
}

/** A tenant's spend in `month`; null when Redis has no record of that month (none yet, or lost). */
export async function readTenantSpend(redis: RedisClient, keys: Keys, tenant: string, month = spendMonth()): Promise<TenantSpend | null> {
  return parseTenantSpend(await redis.hmget(keys.tenantSpend(tenant, month), ...FIELD_NAMES));
}

/** Queues the same read on a pipeline (many tenants in one round trip); parse its reply with `parseTenantSpend`. */
export function queueTenantSpendRead(pipeline: ReturnType<RedisClient['pipeline']>, keys: Keys, tenant: string, month: string): void {
  pipeline.hmget(keys.tenantSpend(tenant, month), ...FIELD_NAMES);
}
