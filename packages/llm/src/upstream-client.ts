import type { IncomingMessage } from 'node:http';
import OpenAI from 'openai';
import type { FinishReason, Usage, UpstreamRequest } from '@spool/contracts';
import { UpstreamError, classifyUpstreamError } from './upstream-error.js';
import { parseRateLimitHeaders, type RateLimitSnapshot } from './rate-limit-headers.js';
import { createNodeFetch, type NodeFetch } from './node-fetch.js';
import { readChatStream } from './chat-stream.js';
import { sdkAuth } from './sdk-auth.js';

export interface UpstreamClientOptions {
  /** OPENAI_BASE_URL */
  baseURL?: string;
  /** OPENAI_API_KEY */
  apiKey?: string;
  /** SPOOL_UPSTREAM_TIMEOUT_MS: one whole call, 120 s */
  timeoutMs?: number;
  /** SPOOL_STALL_TIMEOUT_MS: no chunk for this long breaks the stream, 30 s */
  stallTimeoutMs?: number;
  /** extra headers on every request (SPOOL_CONFIG's `upstreams[].headers`, e.g. Azure's `api-key`) */
  headers?: Record<string, string>;
}

export interface StreamOptions {
  /** aborts the upstream request (cancel, shutdown, lost ownership) */
  signal?: AbortSignal;
  onDelta(text: string): void;
  /** called once the upstream answered, with its rate-limit headers */
  onHeaders?(snapshot: RateLimitSnapshot): void;
}

export interface Completion {
  content: string;
  finishReason: FinishReason;
  usage: Usage | null;
  /** the model that answered, as upstream named it */
  model?: string;
}

/**
 * The upstream on the official `openai` SDK. The SDK's own retries are off: the queue holds
 * the one retry policy (backoff in the worker), so a failure is never retried twice over.
 * The SDK builds, authenticates and sends each call over node:http (`createNodeFetch`); the
 * reply's events are read straight from the socket, at half the CPU per token of web streams.
 */
export class UpstreamClient {
  private readonly sdk: OpenAI;
  private readonly http: NodeFetch = createNodeFetch();
  private readonly timeoutMs: number;
  private readonly stallTimeoutMs: number;

  constructor(options: UpstreamClientOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.stallTimeoutMs = options.stallTimeoutMs ?? 30_000;
    this.sdk = new OpenAI({
      baseURL: options.baseURL,
      ...sdkAuth(options.apiKey, options.headers),
      maxRetries: 0,
      timeout: this.timeoutMs,
      fetch: this.http.fetch,
    });
  }

  /** where calls go (OPENAI_BASE_URL, else OpenAI's own) */
  get baseURL(): string {
    return this.sdk.baseURL;
  }

  /** Closes the kept-alive upstream connections. */
  close(): void {
    this.http.close();
  }

  /** Streams one completion; deltas go to `onDelta` as they arrive. Throws `UpstreamError`. */
  async stream(request: UpstreamRequest, options: StreamOptions): Promise<Completion> {
    const controller = new AbortController();
    let timedOut: string | undefined;
    const abortFor = (reason: string) => {
      timedOut = reason;
      controller.abort();
    };
    const onAbort = () => controller.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const total = setTimeout(() => abortFor(`Upstream call exceeded ${this.timeoutMs} ms`), this.timeoutMs);
    // The stall timer is not moved on every chunk (a hundred a second per stream): it looks at
    // when the last chunk came when it fires, and waits again for the rest if one did.
    let lastChunkAt = Date.now();
    const watchStall = () => {
      const quietMs = Date.now() - lastChunkAt;
      if (quietMs >= this.stallTimeoutMs) abortFor(`No chunk from upstream for ${this.stallTimeoutMs} ms`);
      else idle = setTimeout(watchStall, this.stallTimeoutMs - quietMs);
    };
    let idle = setTimeout(watchStall, this.stallTimeoutMs);
    const touch = () => {
      lastChunkAt = Date.now();
    };

    let content = '';
    let finishReason: FinishReason | null = null;
    let usage: Usage | null = null;
    let model: string | undefined;
    let body: IncomingMessage | undefined;
    try {
      if (options.signal?.aborted) throw new UpstreamError('interrupted', 'Aborted before the call', true);
      const response = await this.sdk.chat.completions
        .create(
          { ...(request as unknown as OpenAI.ChatCompletionCreateParamsStreaming), stream: true, stream_options: { include_usage: true } },
          { signal: controller.signal },
        )
        .asResponse();
      body = this.http.successBody(response);
      options.onHeaders?.(parseRateLimitHeaders(response.headers));
      touch();
      if (!body) throw new UpstreamError('upstream_error', 'Upstream answered without a body', true);
      await readChatStream(body, response.headers, (chunk) => {
        touch();
        if (chunk.usage) usage = chunk.usage as Usage;
        model ??= chunk.model;
        const choice = chunk.choices?.[0];
        if (!choice) return;
        const text = choice.delta?.content;
        if (text) {
          content += text;
          options.onDelta(text);
        }
        if (choice.finish_reason) finishReason = choice.finish_reason as FinishReason;
      });
      if (controller.signal.aborted) throw new UpstreamError('interrupted', 'Upstream request aborted', true);
      if (!finishReason) throw new UpstreamError('upstream_error', 'Upstream stream ended without a finish_reason', true);
      return { content, finishReason, usage, model };
    } catch (error) {
      if (timedOut) throw new UpstreamError('upstream_timeout', timedOut, true, { cause: error });
      if (controller.signal.aborted) throw new UpstreamError('interrupted', 'Upstream request aborted', true, { cause: error });
      throw classifyUpstreamError(error);
    } finally {
      // A body left unread (a failure before or while reading it) must not hold its connection.
      if (body && !body.readableEnded) body.destroy();
      clearTimeout(total);
      clearTimeout(idle);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }
}
