import OpenAI, { toFile } from 'openai';
import { classifyUpstreamError, UpstreamError } from './upstream-error.js';
import { sdkAuth } from './sdk-auth.js';

export interface ProviderBatchClientOptions {
  /** the upstream's base URL; default OpenAI's */
  baseURL?: string;
  apiKey?: string;
  /** extra headers on every call (an upstream's `headers`) */
  headers?: Record<string, string>;
  /** one call until its answer's headers (SPOOL_UPSTREAM_TIMEOUT_MS, 120 s) */
  timeoutMs?: number;
  /** a file download that sends nothing for this long fails, retryable (SPOOL_STALL_TIMEOUT_MS, 30 s) */
  stallTimeoutMs?: number;
  /** a line of an output or error file longer than this (characters) is skipped, never held whole; default 4 Mi */
  maxLineChars?: number;
}

/** An upstream batch as OpenAI describes it. */
export type ProviderBatch = OpenAI.Batches.Batch;

/** Upstream batch statuses after which nothing more happens to it. */
export const PROVIDER_BATCH_ENDED: ReadonlySet<ProviderBatch['status']> = new Set(['completed', 'failed', 'expired', 'cancelled']);

/** Upstream batches looked at, at most, to find one a crashed poller created but never noted. */
const FIND_LIMIT = 100;

/**
 * Whether an upstream's answer to its Batch API says it has none (404, 405, 501: vLLM, Ollama and
 * most OpenAI-compatible servers), as opposed to a failure of this call.
 */
export function lacksBatchApi(error: UpstreamError): boolean {
  return error.status === 404 || error.status === 405 || error.status === 501;
}

/**
 * An upstream's Batch API (`/v1/files`, `/v1/batches`) on the official `openai` SDK. The SDK's
 * own retries are off, as for chat calls: the poller decides when to try again. Every failure
 * is thrown as an `UpstreamError`.
 */
export class ProviderBatchClient {
  private readonly sdk: OpenAI;
  private readonly stallTimeoutMs: number;
  private readonly maxLineChars: number;

  constructor(options: ProviderBatchClientOptions = {}) {
    this.stallTimeoutMs = options.stallTimeoutMs ?? 30_000;
    this.maxLineChars = options.maxLineChars ?? 4 * 1024 * 1024;
    this.sdk = new OpenAI({
      baseURL: options.baseURL,
      ...sdkAuth(options.apiKey, options.headers),
      maxRetries: 0,
      timeout: options.timeoutMs ?? 120_000,
    });
  }

  /** Uploads a batch input file (JSONL text) with purpose `batch`; its file id. */
  async uploadFile(jsonl: string, filename: string): Promise<string> {
    return call(async () => (await this.sdk.files.create({ file: await toFile(Buffer.from(jsonl), filename), purpose: 'batch' })).id);
  }

  /** Creates a chat completions batch over an uploaded file, 24 h window. */
  async createBatch(inputFileId: string, metadata: Record<string, string>): Promise<ProviderBatch> {
    return call(() => this.sdk.batches.create({ input_file_id: inputFileId, endpoint: '/v1/chat/completions', completion_window: '24h', metadata }));
  }

  /** The newest upstream batch (of the last hundred) whose metadata has `key: value`. */
  async findBatch(key: string, value: string): Promise<ProviderBatch | undefined> {
    return call(async () => {
      const page = await this.sdk.batches.list({ limit: FIND_LIMIT });
      return page.data.find((batch) => batch.metadata?.[key] === value);
    });
  }

  async retrieveBatch(id: string): Promise<ProviderBatch> {
    return call(() => this.sdk.batches.retrieve(id));
  }

  async cancelBatch(id: string): Promise<ProviderBatch> {
    return call(() => this.sdk.batches.cancel(id));
  }

  async deleteFile(id: string): Promise<void> {
    await call(() => this.sdk.files.delete(id));
  }

  /**
   * The non-blank lines of a file (an output or error file), read as they download. The SDK's
   * timeout ends when the headers come: a body that stalls fails after `stallTimeoutMs` without a
   * byte. A line over `maxLineChars` is dropped as it comes (`onSkipped` hears of it), so neither
   * a huge line nor a file without newlines is ever held in memory.
   */
  async *fileLines(id: string, onSkipped: (chars: number) => void = () => undefined): AsyncGenerator<string> {
    const controller = new AbortController();
    // Only time spent waiting on upstream counts: not the caller's work on the lines handed to it.
    let waitingSince: number | null = Date.now();
    let stalled = false;
    const watchStall = () => {
      const quietMs = waitingSince === null ? 0 : Date.now() - waitingSince;
      if (quietMs < this.stallTimeoutMs) return void (timer = setTimeout(watchStall, this.stallTimeoutMs - quietMs));
      stalled = true;
      controller.abort();
    };
    let timer = setTimeout(watchStall, this.stallTimeoutMs);
    const lines = new LineSplitter(this.maxLineChars, onSkipped);
    try {
      const response = await call(() => this.sdk.files.content(id, { signal: controller.signal }));
      if (!response.body) return;
      const decoder = new TextDecoder();
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        waitingSince = null;
        yield* lines.push(decoder.decode(chunk, { stream: true }));
        waitingSince = Date.now();
      }
      waitingSince = null;
      yield* lines.push(decoder.decode());
      yield* lines.end();
    } catch (error) {
      if (stalled) throw new UpstreamError('upstream_timeout', `No bytes of the file from upstream for ${this.stallTimeoutMs} ms`, true, { cause: error });
      throw error instanceof UpstreamError ? error : classifyUpstreamError(error);
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
  }
}

/** Cuts text that comes in pieces into its non-blank lines; a line longer than `maxChars` is dropped as it comes. */
class LineSplitter {
  private pending: string[] = [];
  private pendingChars = 0;
  /** characters of a line being dropped (0: none) */
  private skipping = 0;

  constructor(
    private readonly maxChars: number,
    private readonly onSkipped: (chars: number) => void,
  ) {}

  *push(text: string): Generator<string> {
    let start = 0;
    for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n', start)) {
      const line = this.take(text.slice(start, newline));
      if (line !== null && line.trim()) yield line;
      start = newline + 1;
    }
    this.hold(text.slice(start));
  }

  *end(): Generator<string> {
    const line = this.take('');
    if (line !== null && line.trim()) yield line;
  }

  /** The line that ends with `tail`; null when it was too long. */
  private take(tail: string): string | null {
    this.hold(tail);
    const skipped = this.skipping;
    const line = skipped ? null : this.pending.join('');
    this.pending = [];
    this.pendingChars = 0;
    this.skipping = 0;
    if (skipped) this.onSkipped(skipped);
    return line;
  }

  private hold(text: string): void {
    if (!text) return;
    if (this.skipping) {
      this.skipping += text.length;
      return;
    }
    this.pending.push(text);
    this.pendingChars += text.length;
    if (this.pendingChars <= this.maxChars) return;
    this.skipping = this.pendingChars;
    this.pending = [];
    this.pendingChars = 0;
  }
}

async function call<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw classifyUpstreamError(error);
  }
}
