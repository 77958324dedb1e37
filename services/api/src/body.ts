import express, { type RequestHandler } from 'express';
import { ApiError, checkJsonDepth } from '@spool/contracts';

/** The media type a Content-Type header names, lower case and without parameters ('' for none). */
export function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}

/** A body must say it is JSON: with no type, a cross-site form or Blob would be read as JSON. */
export function isJsonType(mediaType: string): boolean {
  return mediaType === 'application/json' || mediaType.endsWith('+json');
}

/**
 * A strict UTF-8 decoder for a request body: bytes that are not UTF-8 are a 400 `invalid_encoding`.
 * `more` says more bytes follow (a body read in chunks); a call without bytes ends the body.
 */
export function utf8Decoder(): (bytes?: Buffer, more?: boolean) => string {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  return (bytes, more = false) => {
    try {
      return decoder.decode(bytes, { stream: more });
    } catch {
      throw ApiError.invalid('The request body is not valid UTF-8', null, 'invalid_encoding');
    }
  };
}

/** A body with nothing but white space; `expected` says what to send. */
export function emptyBody(expected: string): ApiError {
  return ApiError.invalid(`The request body is empty; send ${expected}`, null, 'invalid_json');
}

const decodeUtf8 = utf8Decoder();

/** The raw body as text: 400 when it is not UTF-8 or is empty. */
function bodyText(body: unknown): string {
  const text = decodeUtf8(Buffer.isBuffer(body) ? body : Buffer.alloc(0));
  if (!text.trim()) throw emptyBody('a JSON object');
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
      if (!isJsonType(mediaTypeOf(req.headers['content-type']))) {
        next(new ApiError(415, 'invalid_request_error', 'unsupported_media_type', 'Content-Type must be application/json', 'Content-Type'));
        return;
      }
      raw(req, _res, next);
    },
    (req, _res, next) => {
      let text: string;
      try {
        text = bodyText(req.body);
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
