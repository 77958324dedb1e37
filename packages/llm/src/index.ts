export { UpstreamClient, type UpstreamClientOptions, type StreamOptions, type Completion } from './upstream-client.js';
export { UpstreamError, classifyUpstreamError, UPSTREAM_AUTH_MESSAGE, type UpstreamErrorCode } from './upstream-error.js';
export { MAX_RETRY_AFTER_MS, parseRetryAfterMs, parseDurationMs, parseRateLimitHeaders, type RateLimitSnapshot } from './rate-limit-headers.js';
export { countTokens, countPromptTokens, uncountedPromptTokens } from './tokens.js';
export { sdkAuth } from './sdk-auth.js';
export { continuationRequest } from './continuation.js';
export { contextWindow, DEFAULT_CONTEXT_TOKENS } from './context-window.js';
export { ProviderBatchClient, lacksBatchApi, PROVIDER_BATCH_ENDED, type ProviderBatchClientOptions, type ProviderBatch } from './provider-batch-client.js';
export { batchInputLine, readBatchOutputLine, type BatchLineOutcome } from './provider-batch-lines.js';
