import { JobsError } from './jobs-error.js';

/** A tenant's jobs not yet ended would pass one of its quotas; jobs end, so trying again later can work. */
export class TenantQuotaError extends JobsError {
  declare readonly code: 'tenant_quota_exceeded';
  /** jobs end at their own pace: a guess at when one has */
  readonly retryAfterSeconds = 10;

  constructor(
    /** `jobs`: SPOOL_TENANT_MAX_QUEUED; `bytes`: SPOOL_TENANT_MAX_QUEUED_BYTES */
    readonly quota: 'jobs' | 'bytes',
    readonly limit: number,
  ) {
    super(
      'tenant_quota_exceeded',
      quota === 'jobs'
        ? `Too many jobs queued or running: a tenant may have at most ${limit} at once; retry when some have ended`
        : `Queued and running jobs too large: a tenant's may hold at most ${limit} bytes of requests at once; retry when some have ended`,
    );
  }
}
