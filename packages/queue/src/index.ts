export { createKeys, type Keys } from './keys.js';
export { createRedis, waitForRedis, redactUrl, checkEvictionPolicy, type ConnectionRole, type Redis } from './redis.js';
export { CHAT_QUEUE, CHAT_BACKOFF, chatJobOptions, createChatQueue, type ChatJobData, type ChatJobOptions } from './queues.js';
