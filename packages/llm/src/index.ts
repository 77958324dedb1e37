export { UpstreamClient, type UpstreamClientOptions, type StreamOptions, type Completion } from './upstream-client.js';
export { UpstreamError, classifyUpstreamError, UPSTREAM_AUTH_MESSAGE, type UpstreamErrorCode } from './upstream-error.js';
export { parseRetryAfterMs, parseDurationMs, parseRateLimitHeaders, type RateLimitSnapshot } from './rate-limit-headers.js';
export { countTokens, countPromptTokens } from './tokens.js';
export { continuationRequest } from './continuation.js';
