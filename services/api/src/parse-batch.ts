import {
  ApiError,
  BATCH_MAX_REQUESTS,
  BatchFileLine,
  BatchRequest,
  BatchRequestItem,
  checkJsonDepth,
  JobRequest,
  parseOrThrow,
} from '@spool/contracts';
import type { BatchBody } from './batch-body.js';

/** Batch requests run after single jobs when the queue is backed up, unless a request sets its own `priority`. */
export const BATCH_DEFAULT_PRIORITY = 8;

export interface BatchItem {
  customId: string;
  request: JobRequest;
}

export interface ParsedBatch {
  items: BatchItem[];
  webhook: { url: string } | null;
  metadata: Record<string, string>;
}

/** Where a request came from, for the `param` of its errors: `requests[3]` in JSON, `line 4` in JSONL. */
interface Place {
  /** the param for `field` of the request (`custom_id`, `body.messages`) */
  param(field: string): string;
  /** rethrows a 400 of the request's own validation in terms of this place */
  rethrow(error: unknown): never;
}

function jsonPlace(index: number): Place {
  return {
    param: (field) => `requests[${index}].${field}`,
    rethrow: (error) => {
      throw error;
    },
  };
}

function linePlace(line: number): Place {
  return {
    param: () => `line ${line}`,
    rethrow: (error) => {
      if (!(error instanceof ApiError)) throw error;
      throw ApiError.invalid(`Line ${line}: ${error.message}`, `line ${line}`, error.code);
    },
  };
}

/** One request's body as a job; the batch's own webhook is the only one (a webhook per request is refused). */
function parseItem(customId: string, body: unknown, prefix: string, place: Place): BatchItem {
  let request: JobRequest;
  try {
    request = parseOrThrow(JobRequest, body, prefix);
  } catch (error) {
    place.rethrow(error);
  }
  if (request.webhook) {
    place.rethrow(ApiError.invalid(`Invalid '${prefix}.webhook': a request of a batch cannot have its own webhook; set the batch's webhook`, place.param('body.webhook')));
  }
  if ((body as Record<string, unknown>).priority === undefined) request.priority = BATCH_DEFAULT_PRIORITY;
  return { customId, request };
}

function checkUnique(seen: Set<string>, customId: string, place: Place): void {
  if (seen.has(customId)) {
    throw ApiError.invalid(`Duplicate custom_id '${customId}': every request of a batch needs its own`, place.param('custom_id'), 'duplicate_custom_id');
  }
  seen.add(customId);
}

function parseJson(value: unknown): ParsedBatch {
  const batch = parseOrThrow(BatchRequest, value);
  const seen = new Set<string>();
  const items = batch.requests.map((raw, index) => {
    const place = jsonPlace(index);
    const item = parseOrThrow(BatchRequestItem, raw, `requests[${index}]`);
    checkUnique(seen, item.custom_id, place);
    return parseItem(item.custom_id, item.body, `requests[${index}].body`, place);
  });
  return { items, webhook: batch.webhook ?? null, metadata: batch.metadata };
}

function parseJsonl(text: string): ParsedBatch {
  const seen = new Set<string>();
  const items: BatchItem[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const source = lines[index].trim();
    if (!source) continue;
    const place: Place = linePlace(index + 1);
    if (items.length === BATCH_MAX_REQUESTS) {
      throw ApiError.invalid(`A batch holds at most ${BATCH_MAX_REQUESTS} requests`, place.param(''), 'too_many_requests');
    }
    let value: unknown;
    try {
      value = JSON.parse(source);
    } catch (error) {
      throw ApiError.invalid(`Line ${index + 1} is not valid JSON: ${(error as Error).message}`, place.param(''), 'invalid_json');
    }
    let line: BatchFileLine;
    try {
      checkJsonDepth(value, 1); // the request is the line's {"body": ...}
      line = parseOrThrow(BatchFileLine, value);
    } catch (error) {
      place.rethrow(error);
    }
    checkUnique(seen, line.custom_id, place);
    items.push(parseItem(line.custom_id, line.body, 'body', place));
  }
  if (items.length === 0) throw ApiError.invalid('The batch file has no requests', null, 'invalid_body');
  return { items, webhook: null, metadata: {} };
}

/** Validates a whole batch before anything is written: the first bad request is a 400 naming it. */
export function parseBatch(body: BatchBody): ParsedBatch {
  return body.format === 'json' ? parseJson(body.value) : parseJsonl(body.text);
}
