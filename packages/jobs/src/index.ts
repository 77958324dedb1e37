export { JobRepository, type JobRepositoryOptions, type NewJob, type StartResult, type Outcome, type FinishOptions, type FinishResult } from './job-repository.js';
export { JobRecord, parseJobRecord, renderJob, renderFields, nowSeconds, type JobFields, type StreamEnd } from './job-record.js';
export { JobOutbox, type JobEndedHandler, type OutboxOptions } from './outbox.js';
export { SessionTurns, type SessionTurnsOptions } from './session-turns.js';
export { BatchRepository, renderBatch, isBatchEnded, type NewBatch, type BatchFields } from './batch-repository.js';
export { JobsError } from './jobs-error.js';
export { TenantQuotaError } from './tenant-quota-error.js';
export { readFleetCounts, type FleetCounts } from './fleet-counts.js';
export { ResponseCache, requestHash, canonicalJson, cachedDeltas, spentUpstream, type JobCache, type JoinDecision, type ResponseCacheOptions } from './response-cache.js';
export {
  NANO_USD_PER_USD,
  NO_SPEND,
  SPEND_FIELDS,
  toNanoUsd,
  fromNanoUsd,
  spendMonth,
  monthStartSeconds,
  nextMonthStartSeconds,
  secondsUntilMonthEnds,
  parseTenantSpend,
  readTenantSpend,
  queueTenantSpendRead,
  type TenantSpend,
} from './tenant-spend.js';
