export { SpoolWorker, type SpoolWorkerOptions } from './worker.js';
export { createChatProcessor, type ChatProcessorDeps } from './chat-processor.js';
export { retryDelayMs } from './backoff.js';
export { continuationRequest, CONTINUE_PROMPT } from './continuation.js';
