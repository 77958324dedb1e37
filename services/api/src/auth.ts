import type { RequestHandler } from 'express';
import { ApiError } from '@spool/contracts';
import { sha256Hex } from '@spool/config';

export const OPEN_TENANT = 'default';

/**
 * Resolves the caller's tenant from `Authorization: Bearer <key>` (`tenants`: tenant by key hash). Only hashes of the keys are
 * kept, and a lookup by hash reveals nothing about a key through timing. With no keys configured
 * the API is open and every caller is tenant `default`.
 */
export function authenticate(tenants: Map<string, string>): RequestHandler {
  return (req, res, next) => {
    if (tenants.size === 0) {
      res.locals.tenant = OPEN_TENANT;
      res.locals.apiKeyId = OPEN_TENANT;
      next();
      return;
    }
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const keyHash = match ? sha256Hex(match[1]) : '';
    const tenant = tenants.get(keyHash);
    if (!tenant) {
      const message = match ? 'Invalid API key' : 'Missing API key: send Authorization: Bearer <key>';
      next(new ApiError(401, 'authentication_error', 'invalid_api_key', message, null, { 'www-authenticate': 'Bearer' }));
      return;
    }
    res.locals.tenant = tenant;
    res.locals.apiKeyId = keyHash.slice(0, 32);
    next();
  };
}
