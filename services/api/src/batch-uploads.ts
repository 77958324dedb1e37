import type { RequestHandler } from 'express';
import { ApiError } from '@spool/contracts';

/**
 * Lets a tenant have at most `perTenant` batch uploads in progress on this process (each holds
 * its requests in memory until they are written); another is a 429 before its body is read.
 * An upload is in progress until its answer is sent or its connection closes.
 */
export function limitBatchUploads(perTenant: number): RequestHandler {
  const inProgress = new Map<string, number>();
  return (_req, res, next) => {
    const tenant = res.locals.tenant as string;
    const count = inProgress.get(tenant) ?? 0;
    if (count >= perTenant) {
      next(new ApiError(429, 'rate_limit_error', 'too_many_uploads', `At most ${perTenant} batch uploads at a time; retry when one has been answered`, null, { 'retry-after': '1' }));
      return;
    }
    inProgress.set(tenant, count + 1);
    res.once('close', () => {
      const left = (inProgress.get(tenant) ?? 1) - 1;
      if (left > 0) inProgress.set(tenant, left);
      else inProgress.delete(tenant);
    });
    next();
  };
}
