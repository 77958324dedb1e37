import { sameSecret } from '@spool/contracts';

/** True when no SPOOL_METRICS_KEY is set, or the header is `Bearer <that key>` (compared in constant time). */
export function metricsAuthorized(authorization: string | undefined, key: string | undefined): boolean {
  if (!key) return true;
  const offered = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
  return offered !== undefined && sameSecret(offered, key);
}

export const METRICS_UNAUTHORIZED_MESSAGE = 'GET /metrics needs Authorization: Bearer <SPOOL_METRICS_KEY>';

/** The contract's error envelope for a refused scrape. */
export const METRICS_UNAUTHORIZED_BODY = JSON.stringify({
  error: { type: 'authentication_error', code: 'invalid_api_key', message: METRICS_UNAUTHORIZED_MESSAGE, param: null },
});
