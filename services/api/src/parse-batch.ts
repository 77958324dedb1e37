import { Tokenizer, TokenParser } from '@streamparser/json';
import { ApiError, BATCH_MAX_REQUESTS, BatchFileLine, BatchRequest, BatchRequestItem, checkJsonDepth, JobRequest, parseOrThrow, type CompletionWindow } from '@spool/contracts';

/** Batch requests run after single jobs when the queue is backed up, unless a request sets its own `priority`. */
export const BATCH_DEFAULT_PRIORITY = 8;

/** A request of a batch is a job: at most the 1 MB of a job's body (and one JSON.parse of it stays short). */
export const BATCH_REQUEST_MAX_BYTES = 1024 * 1024;

export interface BatchItem {
  customId: string;
  request: JobRequest;
}

export interface ParsedBatch {
  items: BatchItem[];
  webhook: { url: string } | null;
  metadata: Record<string, string>;
  /** `24h`: through the upstream's Batch API (a JSON body's field; for JSONL, the query's) */
  completionWindow: CompletionWindow | null;
}

/** Takes a batch's text as it arrives, validating each request as soon as it is complete. */
export interface BatchParser {
  write(text: string): void;
  /** the whole batch, validated; throws the 400 of what is missing or incomplete */
  end(): ParsedBatch;
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

/** A request's own fields a batch decides instead: its webhook is the batch's, and a session's turns need one job at a time. */
const BATCH_OWNED_FIELDS = { webhook: "set the batch's webhook", session_id: 'submit it as a job' } as const;

/** The requests of one batch: every one validated as it arrives, `custom_id`s unique, at most `BATCH_MAX_REQUESTS`. */
class BatchItems {
  readonly items: BatchItem[] = [];
  private readonly seen = new Set<string>();

  checkRoom(param: string): void {
    if (this.items.length === BATCH_MAX_REQUESTS) {
      throw ApiError.invalid(`A batch holds at most ${BATCH_MAX_REQUESTS} requests`, param, 'too_many_requests');
    }
  }

  checkSize(bytes: number, param: string): void {
    if (bytes > BATCH_REQUEST_MAX_BYTES) {
      throw ApiError.invalid(`A request of a batch is at most 1 MB, as a job's body is`, param, 'request_too_large');
    }
  }

  /** The one place a request's parsed body is validated: its JSON depth first, then the job rules. */
  add(customId: string, body: unknown, prefix: string, place: Place): void {
    if (this.seen.has(customId)) {
      throw ApiError.invalid(`Duplicate custom_id '${customId}': every request of a batch needs its own`, place.param('custom_id'), 'duplicate_custom_id');
    }
    let request: JobRequest;
    try {
      checkJsonDepth(body, prefix);
      request = parseOrThrow(JobRequest, body, prefix);
    } catch (error) {
      place.rethrow(error);
    }
    for (const [field, instead] of Object.entries(BATCH_OWNED_FIELDS)) {
      if (request[field as keyof typeof BATCH_OWNED_FIELDS]) {
        place.rethrow(ApiError.invalid(`Invalid '${prefix}.${field}': a request of a batch cannot have its own ${field}; ${instead}`, place.param(`body.${field}`)));
      }
    }
    if ((body as Record<string, unknown>).priority === undefined) request.priority = BATCH_DEFAULT_PRIORITY;
    this.seen.add(customId);
    this.items.push({ customId, request });
  }
}

/** An OpenAI batch file: one request a line; blank lines are skipped but counted in `line N`. */
class JsonlBatchParser implements BatchParser {
  private readonly batch = new BatchItems();
  private pending = '';
  private lineNumber = 0;

  write(text: string): void {
    let start = 0;
    for (let newline = text.indexOf('\n'); newline >= 0; newline = text.indexOf('\n', start)) {
      const line = this.pending + text.slice(start, newline);
      this.pending = '';
      this.parseLine(line);
      start = newline + 1;
    }
    this.pending += text.slice(start);
    // A line still arriving is bounded as it grows (a character is at least a byte), not once it is whole.
    this.batch.checkSize(this.pending.length, `line ${this.lineNumber + 1}`);
  }

  end(): ParsedBatch {
    if (this.pending) this.parseLine(this.pending);
    this.pending = '';
    if (this.batch.items.length === 0) throw ApiError.invalid('The batch file has no requests', null, 'invalid_body');
    return { items: this.batch.items, webhook: null, metadata: {}, completionWindow: null };
  }

  private parseLine(text: string): void {
    this.lineNumber += 1;
    const source = text.trim();
    if (!source) return;
    const place: Place = linePlace(this.lineNumber);
    this.batch.checkRoom(place.param(''));
    this.batch.checkSize(Buffer.byteLength(source), place.param(''));
    let value: unknown;
    try {
      value = JSON.parse(source);
    } catch (error) {
      throw ApiError.invalid(`Line ${this.lineNumber} is not valid JSON: ${(error as Error).message}`, place.param(''), 'invalid_json');
    }
    let line: BatchFileLine;
    try {
      line = parseOrThrow(BatchFileLine, value);
    } catch (error) {
      place.rethrow(error);
    }
    this.batch.add(line.custom_id, line.body, 'body', place);
  }
}

/**
 * `{"requests": [...], "webhook"?, "metadata"?}` parsed as it streams: each element of
 * `requests` is validated and dropped from the parser as soon as it closes, so the parser
 * never holds more than one request's JSON.
 */
class JsonBatchParser implements BatchParser {
  private readonly batch = new BatchItems();
  private readonly tokenizer = new Tokenizer();
  private readonly tokens = new TokenParser({ paths: ['$.requests.*', '$.webhook', '$.metadata', '$.completion_window'], keepStack: false });
  private readonly fields: Record<string, unknown> = {};
  private started = false;
  /** where the last request ended, in bytes: the next one's size is counted from there */
  private lastEnd = 0;
  private offset = 0;
  /** bytes written so far: a token still open (a long string) counts too */
  private written = 0;

  constructor() {
    this.tokenizer.onToken = (token) => {
      this.offset = token.offset;
      this.tokens.write(token);
    };
    this.tokens.onValue = ({ value, key, parent, stack }) => {
      if (stack.length === 1) this.fields[key as string] = value;
      else this.addRequest(value, key as number, parent);
    };
  }

  write(text: string): void {
    if (!this.started) {
      const first = text.trimStart();
      if (!first) return;
      this.started = true;
      if (first[0] !== '{') throw ApiError.invalid('The request body must be a JSON object', null, 'invalid_body');
    }
    try {
      this.tokenizer.write(text);
    } catch (error) {
      if (error instanceof ApiError) throw error;
      throw ApiError.invalid(`The request body is not valid JSON: ${(error as Error).message}`, null, 'invalid_json');
    }
    this.written += Buffer.byteLength(text);
    this.batch.checkSize(this.written - this.lastEnd, `requests[${this.batch.items.length}]`);
  }

  end(): ParsedBatch {
    if (!this.tokenizer.isEnded) {
      try {
        this.tokenizer.end();
      } catch (error) {
        throw ApiError.invalid(`The request body is not valid JSON: ${(error as Error).message}`, null, 'invalid_json');
      }
    }
    if (this.batch.items.length === 0) throw ApiError.invalid("Missing required parameter: 'requests' (a non-empty array of requests)", 'requests', 'missing_required_parameter');
    const rest = parseOrThrow(BatchRest, this.fields);
    return { items: this.batch.items, webhook: rest.webhook ?? null, metadata: rest.metadata, completionWindow: rest.completion_window ?? null };
  }

  private addRequest(value: unknown, index: number, parent: unknown): void {
    if (!Array.isArray(parent)) throw ApiError.invalid("Invalid 'requests': expected an array of requests", 'requests');
    this.batch.checkRoom('requests');
    this.batch.checkSize(this.offset - this.lastEnd, `requests[${index}]`);
    this.lastEnd = this.offset;
    const item = parseOrThrow(BatchRequestItem, value, `requests[${index}]`);
    this.batch.add(item.custom_id, item.body, `requests[${index}].body`, jsonPlace(index));
  }
}

/** What a JSON batch has besides its requests. */
const BatchRest = BatchRequest.omit({ requests: true });

/** Validates a batch as it streams in: the first bad request is a 400 naming it, before anything is written. */
export function createBatchParser(format: 'json' | 'jsonl'): BatchParser {
  return format === 'json' ? new JsonBatchParser() : new JsonlBatchParser();
}
