export { createKeys, queuePrefix, type Keys } from './keys.js';
export { createRedis, watchConnection, waitForRedis, redisAnswers, redactUrl, checkEvictionPolicy, type ConnectionRole, type Redis, type RedisClient } from './redis.js';
export { coalesceWrites, coalesceEveryWrite } from './coalesce-writes.js';
export { jobEventsPubSub, type PubSub, type PubSubMode } from './pubsub.js';
export { CHAT_QUEUE, CHAT_BACKOFF, chatJobOptions, createChatQueue, type ChatJobData, type ChatJobOptions } from './queues.js';
export {
  PROVIDER_BATCH_QUEUE,
  providerBatchJobId,
  providerBatchJobOptions,
  createProviderBatchQueue,
  type ProviderBatchJobData,
} from './queues.js';
export { WEBHOOK_QUEUE, WEBHOOK_BACKOFF, WEBHOOK_MAX_ATTEMPTS, webhookJobId, webhookJobOptions, createWebhookQueue, type WebhookJobData } from './queues.js';
export { defineCommands, loadScript, resolveIncludes, type ScriptCommand } from './script-loader.js';
export { readUpstreamStatus, readUpstreamGauges, upstreamState, type UpstreamStatus, type UpstreamState } from './upstream-status.js';
export { FairScheduler, pendingLimitFor, type FairSchedulerOptions, type Released, type ScheduledJob, type TenantPolicy, type WaitingOn } from './fair-scheduler.js';
