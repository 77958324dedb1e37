import type { RequestHandler } from 'express';
import { ApiError } from '@spool/contracts';

/** At most `max` of something at once per tenant on this API process; past it, `refuse()`'s 429. */
export class TenantSlots {
  private readonly held = new Map<string, number>();

  constructor(
    private readonly max: number,
    private readonly refuse: (max: number) => ApiError,
  ) {}

  /** Takes one of `tenant`'s slots, or throws the 429; the returned function gives it back (once). */
  take(tenant: string): () => void {
    const count = this.held.get(tenant) ?? 0;
    if (count >= this.max) throw this.refuse(this.max);
    this.held.set(tenant, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.held.get(tenant) ?? 1) - 1;
      if (left > 0) this.held.set(tenant, left);
      else this.held.delete(tenant);
    };
  }

  /** Middleware: a slot for the request's tenant, held until its connection closes. */
  perRequest(): RequestHandler {
    return (_req, res, next) => {
      res.once('close', this.take(res.locals.tenant as string));
      next();
    };
  }
}

/** A refused stream may try again this soon; a slot frees whenever one of the tenant's streams closes. */
const STREAM_RETRY_AFTER_SECONDS = '5';

/**
 * The SSE streams (job events, streaming chat completions) each tenant holds open on this API
 * process (SPOOL_SSE_MAX_PER_TENANT), so one tenant cannot take every socket and watcher of it.
 */
export function streamSlots(max: number): TenantSlots {
  return new TenantSlots(
    max,
    () =>
      new ApiError(429, 'rate_limit_error', 'too_many_streams', `Too many event streams open at once (at most ${max}); close one or retry in ${STREAM_RETRY_AFTER_SECONDS} s`, null, {
        'retry-after': STREAM_RETRY_AFTER_SECONDS,
      }),
  );
}

/**
 * The batch uploads each tenant has in progress on this process (SPOOL_BATCH_UPLOADS_PER_TENANT;
 * each holds its requests in memory until they are written); another is a 429 before its body is read.
 */
export function uploadSlots(max: number): TenantSlots {
  return new TenantSlots(
    max,
    () => new ApiError(429, 'rate_limit_error', 'too_many_uploads', `At most ${max} batch uploads at a time; retry when one has been answered`, null, { 'retry-after': '1' }),
  );
}
