import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';

export const CHAT_QUEUE = 'chat';

/** What a chat job carries through BullMQ; the request itself lives in the job hash. */
export interface ChatJobData {
  jobId: string;
}

export interface ChatJobOptions {
  priority: number;
  /** SPOOL_MAX_ATTEMPTS */
  attempts: number;
}

/** The backoff strategy's name; workers register it (`chatBackoff` in the worker). */
export const CHAT_BACKOFF = 'spool';

/**
 * A retryable failure throws and BullMQ reschedules it with `CHAT_BACKOFF`; the last attempt
 * and every final outcome are written by the processor itself (it writes the `done` event).
 */
export function chatJobOptions(jobId: string, options: ChatJobOptions): JobsOptions {
  return {
    jobId,
    priority: options.priority,
    attempts: options.attempts,
    backoff: { type: CHAT_BACKOFF },
    removeOnComplete: true,
    removeOnFail: { age: 24 * 3600 },
  };
}

export function createChatQueue(connection: Redis, prefix: string): Queue<ChatJobData> {
  return new Queue<ChatJobData>(CHAT_QUEUE, { connection, prefix });
}
