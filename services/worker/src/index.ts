export { SpoolWorker, type SpoolWorkerOptions } from './worker.js';
export { createChatProcessor, ABORT_CANCELLED, ABORT_SHUTDOWN, type ChatProcessorDeps, type PrepareRequest } from './chat-processor.js';
export { UpstreamGate, type UpstreamGateOptions } from './upstream-gate.js';
export { retryDelayMs } from './backoff.js';
