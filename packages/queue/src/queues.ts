import { Queue, type JobsOptions } from 'bullmq';
import { queuePrefix } from './keys.js';
import type { RedisClient } from './redis.js';
import type { UpstreamRequest } from '@spool/contracts';

export const CHAT_QUEUE = 'chat';
/** Every chat entry's BullMQ name (queue-released.lua names them so too). */
export const CHAT_JOB_NAME = 'chat';

/** What a chat job carries through BullMQ; the request itself lives in the job hash. */
export interface ChatJobData {
  jobId: string;
  /** the job's tenant, when `request` rides along: its head start is reserved against the tenant's budget before START */
  tenant?: string;
  /**
   * A copy of a small request that needs nothing from the job hash (no session): its first
   * attempt calls upstream while the worker's START is still on its way.
   */
  request?: UpstreamRequest;
  /** the job's trace context and submission time (tracing on), with `request`: read at pickup without a round trip */
  traceparent?: string;
  queuedAtMs?: number;
}

export interface ChatJobOptions {
  /** BullMQ's priority; none: first in, first out (the fair scheduler releases jobs in the order to run) */
  priority?: number;
  /** SPOOL_MAX_ATTEMPTS */
  attempts: number;
}

/** The backoff strategy's name; the chat worker answers for it with `settings.backoffStrategy` (`retryDelayMs`). */
export const CHAT_BACKOFF = 'spool';

/**
 * A retryable failure throws and BullMQ reschedules it with `CHAT_BACKOFF`; the last attempt
 * and every final outcome are written by the processor itself (it writes the `done` event).
 */
export function chatJobOptions(jobId: string, options: ChatJobOptions): JobsOptions {
  return {
    jobId,
    ...(options.priority === undefined ? {} : { priority: options.priority }),
    attempts: options.attempts,
    backoff: { type: CHAT_BACKOFF },
    removeOnComplete: true,
    removeOnFail: { age: 24 * 3600 },
  };
}

export function createChatQueue(connection: RedisClient, prefix: string): Queue<ChatJobData> {
  return new Queue<ChatJobData>(CHAT_QUEUE, { connection, prefix: queuePrefix(prefix) });
}

/** Provider-mode batches: one entry per batch, which uploads, creates, polls and collects its upstream batch (API.md §14). */
export const PROVIDER_BATCH_QUEUE = 'provider-batches';

export interface ProviderBatchJobData {
  batchId: string;
}

/** One entry per batch: a second `add` for the same batch adds nothing. */
export function providerBatchJobId(batchId: string): string {
  return `pb_${batchId}`;
}

/**
 * The entry waits between polls as a delayed job (no worker holds it meanwhile). An error outside
 * the poller's own handling (Redis gone) is retried by BullMQ with backoff; past the last attempt
 * the poller hands the batch's requests to the chat queue.
 */
export function providerBatchJobOptions(batchId: string): JobsOptions {
  return {
    jobId: providerBatchJobId(batchId),
    attempts: 20,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: true,
    removeOnFail: { age: 7 * 24 * 3600 },
  };
}

export function createProviderBatchQueue(connection: RedisClient, prefix: string): Queue<ProviderBatchJobData> {
  return new Queue<ProviderBatchJobData>(PROVIDER_BATCH_QUEUE, { connection, prefix: queuePrefix(prefix) });
}

/** Webhook deliveries: a queue of their own, so a slow receiver never holds a chat worker. */
export const WEBHOOK_QUEUE = 'webhooks';

/** The backoff strategy's name; the webhook worker registers it (doubling from SPOOL_WEBHOOK_BACKOFF_MS, capped at 1 h). */
export const WEBHOOK_BACKOFF = 'spool-webhook';

export const WEBHOOK_MAX_ATTEMPTS = 8;

/** One event to deliver; the body is built once so every retry sends the same bytes. */
export interface WebhookJobData {
  /** the `webhook-id` header, the same on every retry */
  webhookId: string;
  /** the job or batch the event is about: its delivery log */
  ownerId: string;
  url: string;
  body: string;
  /** whose webhook it is: one tenant's deliveries in flight are capped; absent on deliveries queued by older versions */
  tenant?: string;
  /** times it waited for a slot of its tenant: those runs were no delivery attempts */
  deferrals?: number;
  /** the job's trace context (tracing on): each delivery is a span of the job's trace */
  traceparent?: string;
}

/** The delivery's BullMQ id and `webhook-id`: one per job or batch, so a repeated outbox run adds nothing. */
export function webhookJobId(ownerId: string): string {
  return `wh_${ownerId}`;
}

/**
 * Finished deliveries are kept a day: BullMQ ignores an `add` whose id exists, which is what
 * makes the at-least-once outbox enqueue one delivery per event.
 */
export function webhookJobOptions(ownerId: string): JobsOptions {
  return {
    jobId: webhookJobId(ownerId),
    attempts: WEBHOOK_MAX_ATTEMPTS,
    backoff: { type: WEBHOOK_BACKOFF },
    removeOnComplete: { age: 24 * 3600 },
    removeOnFail: { age: 7 * 24 * 3600 },
  };
}

export function createWebhookQueue(connection: RedisClient, prefix: string): Queue<WebhookJobData> {
  return new Queue<WebhookJobData>(WEBHOOK_QUEUE, { connection, prefix: queuePrefix(prefix) });
}
