import express, { type RequestHandler } from 'express';
import { ApiError, checkJsonDepth } from '@spool/contracts';
import { bodyText } from './body.js';

/** A batch upload as read: a JSON value, or the text of a JSONL batch file. */
export type BatchBody = { format: 'json'; value: unknown } | { format: 'jsonl'; text: string };

const JSONL_TYPES = new Set(['application/jsonl', 'application/x-ndjson', 'application/x-jsonl', 'application/jsonlines', 'application/x-jsonlines']);

function formatOf(contentType: string | undefined): BatchBody['format'] | null {
  if (!contentType) return null;
  const type = contentType.split(';')[0].trim().toLowerCase();
  if (type === 'application/json' || type.endsWith('+json')) return 'json';
  return JSONL_TYPES.has(type) ? 'jsonl' : null;
}

/**
 * Reads a batch upload up to `limit` (413 above): JSON, or JSONL with `Content-Type:
 * application/jsonl` or `application/x-ndjson`; 415 for anything else, 400 for bytes that are
 * not UTF-8 or JSON that does not parse. The result lands on `req.body` as a `BatchBody`.
 */
export function batchBody(limit: string): RequestHandler[] {
  const raw = express.raw({ type: () => true, limit });
  return [
    (req, res, next) => {
      const format = formatOf(req.headers['content-type']);
      if (!format) {
        next(new ApiError(415, 'invalid_request_error', 'unsupported_media_type', 'Content-Type must be application/json, application/jsonl or application/x-ndjson', 'Content-Type'));
        return;
      }
      res.locals.batchFormat = format;
      raw(req, res, next);
    },
    (req, res, next) => {
      let text: string;
      try {
        text = bodyText(req.body, 'the batch');
      } catch (error) {
        next(error);
        return;
      }
      if (res.locals.batchFormat === 'jsonl') {
        req.body = { format: 'jsonl', text } satisfies BatchBody;
        next();
        return;
      }
      try {
        req.body = { format: 'json', value: JSON.parse(text) } satisfies BatchBody;
      } catch (error) {
        next(ApiError.invalid(`The request body is not valid JSON: ${(error as Error).message}`, null, 'invalid_json'));
        return;
      }
      checkJsonDepth(req.body.value, 3); // each request's body sits in {"requests": [{"body": ...}]}
      next();
    },
  ];
}
