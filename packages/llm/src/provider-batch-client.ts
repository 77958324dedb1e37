import OpenAI, { toFile } from 'openai';
import { classifyUpstreamError, type UpstreamError } from './upstream-error.js';
import { sdkAuth } from './sdk-auth.js';

export interface ProviderBatchClientOptions {
  /** the upstream's base URL; default OpenAI's */
  baseURL?: string;
  apiKey?: string;
  /** extra headers on every call (an upstream's `headers`) */
  headers?: Record<string, string>;
  /** one call, upload and download included (SPOOL_UPSTREAM_TIMEOUT_MS, 120 s) */
  timeoutMs?: number;
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

  constructor(options: ProviderBatchClientOptions = {}) {
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

  /** The non-blank lines of a file (an output or error file), read as they download. */
  async *fileLines(id: string): AsyncGenerator<string> {
    const response = await call(() => this.sdk.files.content(id));
    if (!response.body) return;
    const decoder = new TextDecoder();
    let pending = '';
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        pending += decoder.decode(chunk, { stream: true });
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) if (line.trim()) yield line;
      }
    } catch (error) {
      throw classifyUpstreamError(error);
    }
    pending += decoder.decode();
    if (pending.trim()) yield pending;
  }
}

async function call<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw classifyUpstreamError(error);
  }
}
