import { UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { WEBHOOK_MAX_ATTEMPTS, type WebhookJobData } from '@spool/queue';
import type { Metrics } from '@spool/metrics';
import { checkWebhookUrl, postWebhook, signWebhook, WebhookUrlError, type DeliveryLog, type PostResult, type ResolveHost } from '@spool/webhooks';

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
  return async function deliverWebhook(job: Job<WebhookJobData>): Promise<void> {
    const { webhookId, ownerId, url, body } = job.data;
    // attemptsStarted also counts a run cut short by a dead worker; attemptsMade only failures
    const attempt = Math.max(job.attemptsStarted ?? 0, job.attemptsMade + 1);
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
  };
}
