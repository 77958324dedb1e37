import { createHash } from 'node:crypto';
import { ApiError, newId, type JobObject } from '@spool/contracts';
import { renderFields } from '@spool/jobs';
import type { AppDeps } from './deps.js';

const TTL_SECONDS = 24 * 3600;
const MAX_KEY_LENGTH = 255;
/** how long a retry waits for the first request with its key to finish creating the job */
const CREATION_WAIT_MS = 5000;

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

export interface IdempotentResult {
  job: JobObject;
  /** true when the key had been seen: the first job again */
  replayed: boolean;
}

/**
 * `Idempotency-Key`: the first request with a key claims it in Redis (SET NX, 24 h) together with
 * its body's hash and the id its job will get, so two racing requests make one job; a later one
 * with the same body gets that job, with another body a 409.
 */
export async function idempotent(
  deps: AppDeps,
  tenant: string,
  key: string | undefined,
  body: unknown,
  create: (id: string) => Promise<JobObject>,
): Promise<IdempotentResult> {
  if (key === undefined) return { job: await create(newId('job')), replayed: false };
  if (key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw ApiError.invalid(`Idempotency-Key must be 1 to ${MAX_KEY_LENGTH} characters`, 'Idempotency-Key');
  }
  const redisKey = deps.keys.idempotency(tenant, sha256(key));
  const bodyHash = sha256(JSON.stringify(body));
  const id = newId('job');
  if (await deps.redis.set(redisKey, `${bodyHash}:${id}`, 'EX', TTL_SECONDS, 'NX')) {
    try {
      return { job: await create(id), replayed: false };
    } catch (error) {
      await deps.redis.del(redisKey).catch(() => undefined);
      throw error;
    }
  }
  const claimed = await deps.redis.get(redisKey);
  const [claimedHash, claimedId] = (claimed ?? ':').split(':');
  if (claimedHash !== bodyHash) {
    throw ApiError.conflict('idempotency_key_reused', 'This Idempotency-Key was already used with a different request body');
  }
  const deadline = Date.now() + CREATION_WAIT_MS;
  while (Date.now() < deadline) {
    const fields = await deps.jobs.get(claimedId);
    if (fields) return { job: renderFields(claimedId, fields), replayed: true };
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw ApiError.conflict('idempotency_key_in_progress', 'A request with this Idempotency-Key is still being processed; retry shortly');
}
