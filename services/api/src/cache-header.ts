import { ApiError, CACHE_MAX_TTL_S } from '@spool/contracts';

/** The header that asks the OpenAI door for Spool's response cache, for SDKs that cannot add a body field. */
export const CACHE_TTL_HEADER = 'x-spool-cache-ttl';

/**
 * A `/v1/chat/completions` body with `x-spool-cache-ttl: N` applied: the same as the body field
 * `cache: {"ttl_s": N}`, which wins when both are given (a null one is not given). A header that
 * is not a whole number of seconds from 1 to a week is a 400 naming it.
 */
export function withCacheHeader(body: Record<string, unknown>, header: string | undefined): Record<string, unknown> {
  if (header === undefined) return body;
  const ttl = /^\s*\d{1,7}\s*$/.test(header) ? Number(header) : NaN;
  if (!(ttl >= 1 && ttl <= CACHE_MAX_TTL_S)) {
    throw ApiError.invalid(`Invalid '${CACHE_TTL_HEADER}': must be a whole number of seconds from 1 to ${CACHE_MAX_TTL_S}`, CACHE_TTL_HEADER);
  }
  // A null `cache` is unset, as OpenAI reads a null field: the header applies.
  return body.cache == null ? { ...body, cache: { ttl_s: ttl } } : body;
}
