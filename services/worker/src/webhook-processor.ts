import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { WEBHOOK_MAX_ATTEMPTS, type WebhookJobData } from '@spool/queue';
import type { Metrics } from '@spool/metrics';
import { checkWebhookUrl, postWebhook, signWebhook, WebhookUrlError, type DeliveryLog, type PostResult, type ResolveHost, type TenantSlots } from '@spool/webhooks';
import { noteWebhookAnswer, traceWebhookDelivery } from './tracing-spans.js';

const MAX_BACKOFF_MS = 3600_000;
const USER_AGENT = 'Spool-Webhooks/1';

export interface WebhookProcessorDeps {
  deliveries: DeliveryLog;
  /** the signing secret (SPOOL_WEBHOOK_SECRET, or the one stored in Redis) */
  secret: () => Promise<string>;
  /** SPOOL_WEBHOOK_ALLOW_PRIVATE */
  allowPrivate: boolean;
  /** no answer in this long is a failed attempt */
  timeoutMs: number;
  resolve?: ResolveHost;
  logger: Logger;
  /** counts attempts by outcome in spool_webhook_deliveries_total */
  metrics?: Pick<Metrics, 'webhookDeliveries'>;
  /** one tenant's deliveries in flight, capped over all workers */
  slots: Pick<TenantSlots, 'take' | 'release'>;
  /** a delivery whose tenant has no free slot waits this long (up to twice, jittered) before it asks again */
  deferMs: number;
}

/** Delay before delivery attempt n+1: SPOOL_WEBHOOK_BACKOFF_MS doubling each time, capped at 1 h. */
export function webhookRetryDelayMs(attemptsMade: number, baseMs: number): number {
  return Math.min(MAX_BACKOFF_MS, baseMs * 2 ** Math.max(0, attemptsMade - 1));
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * One delivery attempt: check the URL again (DNS may have changed since submission), POST the
 * signed event to the address just checked, and log the attempt. A 2xx is delivered; 410 stops;
 * anything else throws so BullMQ retries with `webhookRetryDelayMs`, with the same `webhook-id`.
 */
export function createWebhookProcessor(deps: WebhookProcessorDeps) {
  // Waiting in the delayed set, not in a slot of this worker: the other tenants' deliveries go on.
  async function defer(job: Job<WebhookJobData>, token: string | undefined): Promise<never> {
    await job.updateData({ ...job.data, deferrals: (job.data.deferrals ?? 0) + 1 });
    await job.moveToDelayed(Date.now() + Math.round(deps.deferMs * (1 + Math.random())), token);
    throw new DelayedError();
  }

  return async function deliverWebhook(job: Job<WebhookJobData>, token?: string): Promise<void> {
    const tenant = job.data.tenant ?? '';
    const holder = job.id ?? job.data.webhookId;
    if (!(await deps.slots.take(tenant, holder))) return defer(job, token);
    try {
      await traceWebhookDelivery(job.data, () => attemptDelivery(job));
    } finally {
      // Redis down: the slot's lease frees it.
      await deps.slots.release(tenant, holder).catch(() => undefined);
    }
  };

  async function attemptDelivery(job: Job<WebhookJobData>): Promise<void> {
    const { webhookId, ownerId, url, body } = job.data;
    // attemptsStarted also counts a run cut short by a dead worker (and runs deferred for a slot); attemptsMade only failures
    const attempt = Math.max((job.attemptsStarted ?? 0) - (job.data.deferrals ?? 0), job.attemptsMade + 1);
    const at = nowSeconds();
    const started = performance.now();
    let result: PostResult;
    let permanent = false;
    try {
      const target = await checkWebhookUrl(url, { allowPrivate: deps.allowPrivate, resolve: deps.resolve });
      const timestamp = nowSeconds();
      const headers = {
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        'webhook-id': webhookId,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signWebhook(await deps.secret(), webhookId, timestamp, body),
      };
      result = await postWebhook(target, body, headers, deps.timeoutMs);
    } catch (error) {
      if (!(error instanceof WebhookUrlError)) throw error;
      result = { statusCode: null, error: `not sent: ${error.message}` };
      permanent = !error.isRetryable;
    }
    noteWebhookAnswer(result.statusCode, attempt);
    const delivered = result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300;
    const gone = result.statusCode === 410;
    const error = delivered ? null : (result.error ?? `HTTP ${result.statusCode}${gone ? ': the receiver is gone; not retried' : ''}`);
    await deps.deliveries.record(ownerId, { attempt, at, status_code: result.statusCode, error, duration_ms: Math.round(performance.now() - started) });
    deps.logger.info({ webhook_id: webhookId, attempt, status_code: result.statusCode, delivered }, delivered ? 'webhook delivered' : 'webhook attempt failed');
    const last = gone || permanent || attempt >= (job.opts.attempts ?? WEBHOOK_MAX_ATTEMPTS);
    deps.metrics?.webhookDeliveries.inc({ outcome: delivered ? 'delivered' : gone ? 'gone' : last ? 'exhausted' : 'retrying' });
    if (delivered) return;
    if (gone || permanent) throw new UnrecoverableError(error ?? 'not deliverable');
    throw new Error(error ?? 'not delivered');
  }
}
