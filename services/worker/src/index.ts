export { SpoolWorker, type SpoolWorkerOptions } from './worker.js';
export { createChatProcessor, ABORT_CANCELLED, ABORT_SHUTDOWN, type ChatProcessorDeps, type PrepareRequest } from './chat-processor.js';
export { UpstreamGate, type UpstreamGateOptions } from './upstream-gate.js';
export { retryDelayMs } from './backoff.js';
export { WebhookWorker, type WebhookWorkerOptions, type WebhookEvent } from './webhook-worker.js';
export { createWebhookProcessor, webhookRetryDelayMs, type WebhookProcessorDeps } from './webhook-processor.js';
export { recordBatchResult } from './batch-results.js';
export { recordJob } from './record-job.js';
export { pruneStoreOnce, startStoreRetention, type StoreRetentionOptions } from './store-retention.js';
