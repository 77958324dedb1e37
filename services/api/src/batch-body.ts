import type { Request } from 'express';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { ApiError } from '@spool/contracts';
import { createBatchParser, type ParsedBatch } from './parse-batch.js';
import { emptyBody, isJsonType, mediaTypeOf, utf8Decoder } from './body.js';

/** The largest batch upload (API.md §2). */
export const BATCH_BODY_MAX_BYTES = 50 * 1024 * 1024;

const JSONL_TYPES = new Set(['application/jsonl', 'application/x-ndjson', 'application/x-jsonl', 'application/jsonlines', 'application/x-jsonlines']);

function formatOf(contentType: string | undefined): 'json' | 'jsonl' | null {
  const type = mediaTypeOf(contentType);
  if (isJsonType(type)) return 'json';
  return JSONL_TYPES.has(type) ? 'jsonl' : null;
}

const tooLarge = () => new ApiError(413, 'invalid_request_error', 'request_too_large', 'The request body is too large');

/**
 * Reads and validates a batch upload as it streams in: JSON, or JSONL with `Content-Type:
 * application/jsonl` or `application/x-ndjson`; 415 for anything else, 413 over `limit` bytes,
 * 400 for bytes that are not UTF-8, JSON that does not parse, or the first bad request. Only the
 * validated requests are kept, and the event loop gets a turn between chunks, so a big upload
 * neither holds its text nor stalls other requests. On an error the rest of the body is discarded.
 */
export async function readBatch(req: Request, limit = BATCH_BODY_MAX_BYTES): Promise<ParsedBatch> {
  const format = formatOf(req.headers['content-type']);
  if (!format) {
    throw new ApiError(415, 'invalid_request_error', 'unsupported_media_type', 'Content-Type must be application/json, application/jsonl or application/x-ndjson', 'Content-Type');
  }
  if (Number(req.headers['content-length']) > limit) throw tooLarge();
  const parser = createBatchParser(format);
  const decode = utf8Decoder();
  let received = 0;
  let text = false;
  try {
    // Not destroyed on an early exit: the error still has to be answered on this socket.
    for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      received += chunk.length;
      if (received > limit) throw tooLarge();
      const decoded = decode(chunk, true);
      if (!text) text = /\S/.test(decoded);
      parser.write(decoded);
      await nextTurn();
    }
    parser.write(decode());
  } catch (error) {
    req.resume();
    throw error;
  }
  if (!text) throw emptyBody('the batch');
  return parser.end();
}
