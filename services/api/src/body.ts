import express, { type RequestHandler } from 'express';
import { ApiError, checkJsonDepth } from '@spool/contracts';

const decoder = new TextDecoder('utf-8', { fatal: true });

/** A body must say it is JSON: with no type, a cross-site form or Blob would be read as JSON. */
function isJsonType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const type = contentType.split(';')[0].trim().toLowerCase();
  return type === 'application/json' || type.endsWith('+json');
}

/** The raw body as text: 400 when it is not UTF-8 or is empty (`expected` says what to send). */
function bodyText(body: unknown, expected: string): string {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.alloc(0);
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw ApiError.invalid('The request body is not valid UTF-8', null, 'invalid_encoding');
  }
  if (!text.trim()) throw ApiError.invalid(`The request body is empty; send ${expected}`, null, 'invalid_json');
  return text;
}

/**
 * Parses a JSON body strictly: 415 for another content type or none, 413 over `limit`, 400 for
 * bytes that are not UTF-8, text that is not JSON, or JSON nested too deep. The parsed value
 * lands on `req.body`.
 */
export function jsonBody(limit: string): RequestHandler[] {
  const raw = express.raw({ type: () => true, limit });
  return [
    (req, _res, next) => {
      if (!isJsonType(req.headers['content-type'])) {
        next(new ApiError(415, 'invalid_request_error', 'unsupported_media_type', 'Content-Type must be application/json', 'Content-Type'));
        return;
      }
      raw(req, _res, next);
    },
    (req, _res, next) => {
      let text: string;
      try {
        text = bodyText(req.body, 'a JSON object');
      } catch (error) {
        next(error);
        return;
      }
      try {
        req.body = JSON.parse(text);
      } catch (error) {
        next(ApiError.invalid(`The request body is not valid JSON: ${(error as Error).message}`, null, 'invalid_json'));
        return;
      }
      checkJsonDepth(req.body);
      next();
    },
  ];
}
