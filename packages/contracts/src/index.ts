export { newId, isId } from './ids.js';
export { SpoolError } from './spool-error.js';
export { withTimeout } from './with-timeout.js';
export { ApiError, formatParam, type ErrorEnvelope, type ErrorType } from './errors.js';
export {
  ChatMessage,
  ChatRequestFields,
  JobRequest,
  Metadata,
  Webhook,
  CacheOption,
  CACHE_MAX_TTL_S,
  SpoolFields,
  SPOOL_FIELD_NAMES,
  splitJobRequest,
  parseOrThrow,
  type UpstreamRequest,
} from './job-request.js';
export {
  TERMINAL_STATUSES,
  isTerminal,
  JobStatus,
  FinishReason,
  Usage,
  JobResult,
  JobPartial,
  JobError,
  JobObject,
  AttemptOutcome,
  AttemptLogEntry,
  JobEventName,
  StatusEventData,
  DeltaEventData,
  ResetEventData,
  DoneEventData,
  JobEventData,
  type JobEvent,
} from './job.js';
export { BATCH_MAX_REQUESTS, CustomId, BatchRequest, BatchRequestItem, BatchFileLine, BatchStatus, BatchObject, BatchMode, CompletionWindow, type BatchResultLine } from './batch.js';
export { MAX_JSON_DEPTH, checkJsonDepth } from './json-depth.js';
export { sameSecret } from './same-secret.js';
export { TenantUsage } from './usage.js';
