import type { EventEmitter } from 'node:events';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { answerLine, expiredLine, outputLine, readBatchInput, type BatchInputError, type BatchInputLine } from './batch-lines.js';
import type { BatchFault, Directive } from './directives.js';
import { invalidRequest, type OpenAIErrorBody } from './errors.js';
import { openAiId, type FileStore } from './files.js';

export type BatchStatus = 'validating' | 'failed' | 'in_progress' | 'finalizing' | 'completed' | 'expired' | 'cancelling' | 'cancelled';

const ENDED: ReadonlySet<BatchStatus> = new Set(['failed', 'completed', 'expired', 'cancelled']);
const TIMESTAMPS = ['in_progress', 'finalizing', 'completed', 'failed', 'expired', 'cancelling', 'cancelled'] as const;
const ENDPOINTS = ['/v1/chat/completions'];
/** requests answered per turn of the event loop while a batch finalizes */
const ANSWERED_PER_TURN = 500;
const DAY_SECONDS = 24 * 3600;

interface SimBatch {
  id: string;
  endpoint: string;
  inputFileId: string;
  metadata: Record<string, string> | null;
  status: BatchStatus;
  createdAt: number;
  at: Partial<Record<(typeof TIMESTAMPS)[number], number>>;
  errors: BatchInputError[] | null;
  counts: { total: number; completed: number; failed: number };
  outputFileId: string | null;
  errorFileId: string | null;
  lines: BatchInputLine[];
  fault?: BatchFault;
  timer?: NodeJS.Timeout;
}

export interface BatchStoreOptions {
  files: FileStore;
  /** how long a batch runs before it finalizes (or expires, when asked to) */
  delayMs: number;
  /** batches kept at most; past it the oldest ended one is forgotten, and with none ended a create is a 429 */
  maxBatches?: number;
  /** counts a request carrying a fault directive; false once its `times` is used up */
  countFault(directive: Directive): boolean;
  /** `batch` ({ id, status }) on every change of status */
  events: EventEmitter;
}

export type Answer = { status: number; body: unknown };
const error = (status: number, body: OpenAIErrorBody): Answer => ({ status, body });
const now = () => Math.floor(Date.now() / 1000);

/** OpenAI's batch object. */
function batchObject(batch: SimBatch) {
  return {
    id: batch.id,
    object: 'batch',
    endpoint: batch.endpoint,
    errors: batch.errors ? { object: 'list', data: batch.errors } : null,
    input_file_id: batch.inputFileId,
    completion_window: '24h',
    status: batch.status,
    output_file_id: batch.outputFileId,
    error_file_id: batch.errorFileId,
    created_at: batch.createdAt,
    in_progress_at: batch.at.in_progress ?? null,
    expires_at: batch.createdAt + DAY_SECONDS,
    finalizing_at: batch.at.finalizing ?? null,
    completed_at: batch.at.completed ?? null,
    failed_at: batch.at.failed ?? null,
    expired_at: batch.at.expired ?? null,
    cancelling_at: batch.at.cancelling ?? null,
    cancelled_at: batch.at.cancelled ?? null,
    request_counts: batch.counts,
    metadata: batch.metadata,
  };
}

/**
 * The simulator's Batch API, in memory: a batch validates its input file at once, runs for
 * `delayMs`, then answers every request as the simulator answers it live and writes the output
 * and error files. `[[sim batch=failed]]` in a request fails its batch at validation;
 * `[[sim batch=expired]]` expires it after `delayMs` with nothing done.
 */
export class BatchStore {
  private readonly batches = new Map<string, SimBatch>();
  private readonly maxBatches: number;
  private closed = false;

  constructor(private readonly options: BatchStoreOptions) {
    this.maxBatches = options.maxBatches ?? 1000;
  }

  create(params: unknown): Answer {
    if (typeof params !== 'object' || params === null) return error(400, invalidRequest('The body must be a JSON object.', null));
    const { input_file_id: inputFileId, endpoint, completion_window: window, metadata } = params as Record<string, unknown>;
    if (typeof inputFileId !== 'string') return error(400, invalidRequest("'input_file_id' is required.", 'input_file_id'));
    if (typeof endpoint !== 'string' || !ENDPOINTS.includes(endpoint)) {
      return error(400, invalidRequest(`'endpoint' must be one of ${ENDPOINTS.join(', ')}.`, 'endpoint'));
    }
    if (window !== '24h') return error(400, invalidRequest("'completion_window' must be '24h'.", 'completion_window'));
    if (metadata !== undefined && metadata !== null && !isStringMap(metadata)) {
      return error(400, invalidRequest("'metadata' must be a map of up to 16 strings.", 'metadata'));
    }
    const file = this.options.files.get(inputFileId);
    if (!file || file.purpose !== 'batch') return error(400, invalidRequest(`No batch input file with id '${inputFileId}'.`, 'input_file_id'));
    if (!this.makeRoom()) {
      return { status: 429, body: { error: { message: `Too many batches in progress (the simulator keeps ${this.maxBatches}).`, type: 'requests', param: null, code: 'rate_limit_exceeded' } } };
    }
    const batch: SimBatch = {
      id: openAiId('batch_'),
      endpoint,
      inputFileId,
      metadata: (metadata as Record<string, string> | undefined) ?? null,
      status: 'validating',
      createdAt: now(),
      at: {},
      errors: null,
      counts: { total: 0, completed: 0, failed: 0 },
      outputFileId: null,
      errorFileId: null,
      lines: [],
    };
    this.batches.set(batch.id, batch);
    const input = readBatchInput(file.content, endpoint);
    batch.timer = setTimeout(() => {
      if ('errors' in input) return this.fail(batch, input.errors);
      batch.lines = input.lines;
      batch.fault = input.fault;
      batch.counts.total = input.lines.length;
      if (input.fault === 'failed') return this.fail(batch, [{ code: 'simulated_failure', message: 'The batch failed (simulated).', param: null, line: null }]);
      this.move(batch, 'in_progress');
      batch.timer = setTimeout(() => void this.finish(batch), this.options.delayMs);
    }, 0);
    return { status: 200, body: batchObject(batch) };
  }

  get(id: string): Answer {
    const batch = this.batches.get(id);
    return batch ? { status: 200, body: batchObject(batch) } : notFound(id);
  }

  /** Newest first, OpenAI's cursor page (`after` an id, `limit` 1..100). */
  list(limit: number, after: string | undefined): Answer {
    const all = [...this.batches.values()].reverse();
    const from = after ? all.findIndex((batch) => batch.id === after) + 1 : 0;
    const page = all.slice(from, from + limit);
    return {
      status: 200,
      body: { object: 'list', data: page.map(batchObject), first_id: page[0]?.id ?? null, last_id: page.at(-1)?.id ?? null, has_more: from + limit < all.length },
    };
  }

  cancel(id: string): Answer {
    const batch = this.batches.get(id);
    if (!batch) return notFound(id);
    if (batch.status === 'validating' || batch.status === 'in_progress') {
      clearTimeout(batch.timer);
      this.move(batch, 'cancelling');
      batch.timer = setTimeout(() => this.move(batch, 'cancelled'), 0);
    } else if (batch.status !== 'cancelling' && batch.status !== 'cancelled') {
      return error(400, invalidRequest(`Cannot cancel a batch that is ${batch.status}.`, null));
    }
    return { status: 200, body: batchObject(batch) };
  }

  close(): void {
    this.closed = true;
    for (const batch of this.batches.values()) clearTimeout(batch.timer);
  }

  private makeRoom(): boolean {
    for (const [id, batch] of this.batches) {
      if (this.batches.size < this.maxBatches) break;
      if (ENDED.has(batch.status)) this.batches.delete(id);
    }
    return this.batches.size < this.maxBatches;
  }

  private move(batch: SimBatch, status: BatchStatus): void {
    batch.status = status;
    if (status !== 'validating') batch.at[status] = now();
    if (ENDED.has(status)) batch.lines = [];
    this.options.events.emit('batch', { id: batch.id, status });
  }

  private fail(batch: SimBatch, errors: BatchInputError[]): void {
    batch.errors = errors;
    this.move(batch, 'failed');
  }

  private async finish(batch: SimBatch): Promise<void> {
    const { files } = this.options;
    if (batch.fault === 'expired') {
      batch.errorFileId = files.add(`${batch.id}_error.jsonl`, 'batch_output', jsonl(batch.lines.map((line) => expiredLine(line.customId)))).id;
      batch.counts.failed = batch.lines.length;
      return this.move(batch, 'expired');
    }
    this.move(batch, 'finalizing');
    const output: string[] = [];
    const errors: string[] = [];
    for (const [index, line] of batch.lines.entries()) {
      const answer = answerLine(line, this.options.countFault);
      (answer.statusCode === 200 ? output : errors).push(outputLine(line.customId, answer));
      if (index % ANSWERED_PER_TURN === ANSWERED_PER_TURN - 1) await nextTurn();
      if (this.closed) return;
    }
    batch.counts.completed = output.length;
    batch.counts.failed = errors.length;
    if (output.length) batch.outputFileId = files.add(`${batch.id}_output.jsonl`, 'batch_output', jsonl(output)).id;
    if (errors.length) batch.errorFileId = files.add(`${batch.id}_error.jsonl`, 'batch_output', jsonl(errors)).id;
    this.move(batch, 'completed');
  }
}

function jsonl(lines: string[]): Buffer {
  return Buffer.from(lines.length ? `${lines.join('\n')}\n` : '');
}

function notFound(id: string): Answer {
  return { status: 404, body: { error: { message: `No batch found with id '${id}'.`, type: 'invalid_request_error', param: null, code: null } } };
}

function isStringMap(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const entries = Object.entries(value);
  return entries.length <= 16 && entries.every(([key, text]) => key.length <= 64 && typeof text === 'string' && text.length <= 512);
}
