import { ApiError } from '@spool/contracts';

/** A refused stream may try again this soon; a slot frees whenever one of the tenant's streams closes. */
const RETRY_AFTER_SECONDS = '5';

/**
 * The SSE streams (job events, streaming chat completions) each tenant holds open on this API
 * process, at most `max` (SPOOL_SSE_MAX_PER_TENANT), so one tenant cannot take every socket and
 * watcher of the process.
 */
export class StreamSlots {
  private readonly open = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** Takes one of `tenant`'s slots, or throws a 429; the returned function gives it back (once). */
  take(tenant: string): () => void {
    const count = this.open.get(tenant) ?? 0;
    if (count >= this.max) {
      throw new ApiError(
        429,
        'rate_limit_error',
        'too_many_streams',
        `Too many event streams open at once (at most ${this.max}); close one or retry in ${RETRY_AFTER_SECONDS} s`,
        null,
        { 'retry-after': RETRY_AFTER_SECONDS },
      );
    }
    this.open.set(tenant, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(tenant) ?? 1) - 1;
      if (left > 0) this.open.set(tenant, left);
      else this.open.delete(tenant);
    };
  }
}
