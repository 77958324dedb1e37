import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';

const SAFE_ID = /^[\w.:-]{1,128}$/;

/** Every response carries `x-request-id`: the caller's if it sent a sane one, else a new one. */
export function requestId(): RequestHandler {
  return (req, res, next) => {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && SAFE_ID.test(incoming) ? incoming : `req_${randomUUID().replaceAll('-', '')}`;
    res.locals.requestId = id;
    res.setHeader('x-request-id', id);
    next();
  };
}
