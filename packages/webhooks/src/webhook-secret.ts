import type { RedisClient } from '@spool/queue';
import { generateWebhookSecret } from './signature.js';

export interface WebhookSecret {
  secret: string;
  /** where it came from: the environment, Redis, or made just now (and stored in Redis) */
  source: 'config' | 'stored' | 'generated';
}

// A key deleted between our SET NX and GET (a flush racing us) is retried this many times.
const TRIES = 3;

/**
 * SPOOL_WEBHOOK_SECRET when set; otherwise the one stored in Redis, made by whichever process
 * got there first (SET NX). Call it for every signature: after Redis lost the key, every process
 * signs with the one stored anew, never with a copy of its own.
 */
export async function resolveWebhookSecret(redis: RedisClient, key: string, configured?: string): Promise<WebhookSecret> {
  if (configured) return { secret: configured, source: 'config' };
  for (let tries = 0; tries < TRIES; tries++) {
    const stored = await redis.get(key);
    if (stored) return { secret: stored, source: 'stored' };
    const candidate = generateWebhookSecret();
    if ((await redis.set(key, candidate, 'NX')) === 'OK') return { secret: candidate, source: 'generated' };
  }
  throw new Error(`the webhook secret at ${key} keeps vanishing`);
}
