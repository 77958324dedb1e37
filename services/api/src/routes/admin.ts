import { createHmac } from 'node:crypto';
import { Router, type Request, type RequestHandler } from 'express';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { ApiError, sameSecret } from '@spool/contracts';
import { createWebhookQueue } from '@spool/queue';
import type { AppDeps } from '../deps.js';
import { notFound } from '../error-handler.js';
import { listUpstreams } from '../upstream-list.js';

export const ADMIN_COOKIE = 'spool_admin';
const DASHBOARD_PATH = '/admin/queues';
const COOKIE_MAX_AGE_S = 12 * 3600;

/** The cookie holds a value derived from the key, never the key itself. */
function sessionValue(adminKey: string): string {
  return createHmac('sha256', adminKey).update('spool-admin-session').digest('base64url');
}

function cookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

/** The key a request offers: `Authorization: Bearer <key>`, or Basic with the key as password. */
function offeredKey(req: Request): string | undefined {
  const header = req.headers.authorization ?? '';
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer) return bearer[1];
  const basic = /^Basic\s+(\S+)\s*$/i.exec(header);
  if (!basic) return undefined;
  const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(colon + 1) : undefined;
}

function unauthorized(message: string): ApiError {
  // Basic first: a browser then asks for the key itself (any user name, the key as password).
  return new ApiError(401, 'authentication_error', 'invalid_admin_key', message, null, {
    'www-authenticate': 'Basic realm="Spool admin", charset="UTF-8", Bearer',
  });
}

/**
 * Guards `/admin/*` with SPOOL_ADMIN_KEY: a Bearer header, Basic auth (the key as password), or
 * once `?key=<key>`, which sets an HttpOnly cookie and redirects to the same page without the key.
 * With no admin key configured every `/admin/*` is an unknown URL (404).
 */
export function adminAuth(adminKey: string | undefined): RequestHandler {
  const session = adminKey ? sessionValue(adminKey) : '';
  return (req, res, next) => {
    if (!adminKey) return notFound(req, res, next);
    const queryKey = typeof req.query.key === 'string' ? req.query.key : undefined;
    if (queryKey !== undefined) {
      if (!sameSecret(queryKey, adminKey)) return next(unauthorized('Invalid admin key'));
      res.cookie(ADMIN_COOKIE, session, {
        httpOnly: true,
        sameSite: 'strict',
        secure: req.secure,
        path: '/admin',
        maxAge: COOKIE_MAX_AGE_S * 1000,
      });
      const url = new URL(req.originalUrl, 'http://spool.invalid');
      url.searchParams.delete('key');
      return res.redirect(303, `${url.pathname}${url.search}`);
    }
    const key = offeredKey(req);
    if (key !== undefined) {
      return sameSecret(key, adminKey) ? next() : next(unauthorized('Invalid admin key'));
    }
    const fromCookie = cookie(req, ADMIN_COOKIE);
    if (fromCookie !== undefined && sameSecret(fromCookie, session)) return next();
    next(unauthorized('Admin key required: send Authorization: Bearer <SPOOL_ADMIN_KEY>, or open /admin/queues?key=<SPOOL_ADMIN_KEY> once'));
  };
}

/**
 * `/admin/queues`: the Bull Board dashboard of the chat and webhook queues, read-only (job state
 * lives in Spool's job hash); `GET /admin/upstreams`: each upstream's state, calls in flight and
 * last rate-limit headers.
 */
export function adminRouter(deps: AppDeps): Router {
  const router = Router();
  router.use('/admin', adminAuth(deps.config.adminKey));
  if (!deps.config.adminKey) return router;
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(DASHBOARD_PATH);
  createBullBoard({
    queues: [
      new BullMQAdapter(deps.queue, { readOnlyMode: true }),
      new BullMQAdapter(createWebhookQueue(deps.redis, deps.config.prefix), { readOnlyMode: true }),
    ],
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Spool queues' } },
  });
  router.use(DASHBOARD_PATH, serverAdapter.getRouter());
  router.get('/admin/upstreams', async (_req, res) => {
    res.json({ object: 'list', data: await listUpstreams(deps) });
  });
  return router;
}
