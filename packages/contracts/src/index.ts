export { newId, isId } from './ids.js';
export { ApiError, formatParam, type ErrorEnvelope, type ErrorType } from './errors.js';
export {
  ChatMessage,
  ChatRequestFields,
  JobRequest,
  Metadata,
  Webhook,
  SpoolFields,
  SPOOL_FIELD_NAMES,
  splitJobRequest,
  parseOrThrow,
  type UpstreamRequest,
} from './job-request.js';
export {
  TERMINAL_STATUSES,
  isTerminal,
  type JobStatus,
  type FinishReason,
  type Usage,
  type JobResult,
  type JobPartial,
  type JobError,
  type JobObject,
  type JobEvent,
  type JobEventName,
} from './job.js';
