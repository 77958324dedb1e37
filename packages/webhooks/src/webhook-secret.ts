import type { Redis } from 'ioredis';
import { generateWebhookSecret } from './signature.js';

export interface WebhookSecret {
  secret: string;
  /** where it came from: the environment, Redis, or made just now (and stored in Redis) */
  source: 'config' | 'stored' | 'generated';
}

/**
 * SPOOL_WEBHOOK_SECRET when set; otherwise the one in Redis, made by whichever process got there
 * first (SET NX), so every worker signs with the same secret.
 */
export async function resolveWebhookSecret(redis: Redis, key: string, configured?: string): Promise<WebhookSecret> {
  if (configured) return { secret: configured, source: 'config' };
  const candidate = generateWebhookSecret();
  if ((await redis.set(key, candidate, 'NX')) === 'OK') return { secret: candidate, source: 'generated' };
  const stored = await redis.get(key);
  if (!stored) throw new Error(`the webhook secret at ${key} vanished`);
  return { secret: stored, source: 'stored' };
}
