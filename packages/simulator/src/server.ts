import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BatchApi, type RouteAnswer } from './batch-api.js';
import { CompletionWriter } from './completion.js';
import { DirectiveError, findDirective, hasFault, type Directive } from './directives.js';
import { faultError, invalidRequest, type OpenAIErrorBody } from './errors.js';
import { countPromptTokens } from './messages.js';
import { planCompletion, selectBodyFault, type BodyFault } from './plan.js';
import { formatDuration, SlidingWindowLimiter, type RateDecision } from './rate-limit.js';
import { simulateReply, type SimulatedReply } from './reply.js';
import { BodyTooLargeError, parseCompletionBody, readBody } from './request-body.js';

export interface SimulatorOptions {
  /** Time to first token, ms. Default 0 (`npm run simulator`: 200, env SIMULATOR_TTFT_MS). */
  ttftMs?: number;
  /** Tokens per second per stream; 0 sends all at once. Default 0 (`npm run simulator`: 50, env SIMULATOR_TOKENS_PER_SECOND). */
  tokensPerSecond?: number;
  /** Requests per minute; unlimited when undefined (env SIMULATOR_RPM). */
  rpm?: number;
  /** Tokens per minute; unlimited when undefined (env SIMULATOR_TPM). */
  tpm?: number;
  /** When set, `/v1` requests must carry `Authorization: Bearer <apiKey>` or get 401. Default: none. */
  apiKey?: string;
  /**
   * Writes per second across all streams before tokens are batched: with more open streams than
   * this allows at their pace, each stream writes less often, several tokens at a time, so a few
   * thousand streams stay cheap. Default 20000.
   */
  maxWritesPerSecond?: number;
  /** This instance's name: a directive's `on=NAME` faults only the instance of that name (env SIMULATOR_NAME). */
  name?: string;
  /** Answer every chat completion with this HTTP status, as an upstream that is down (env SIMULATOR_FAULT_STATUS). */
  faultStatus?: number;
  /** Break every stream after this many content chunks, as an upstream that drops connections (env SIMULATOR_BREAK_AFTER). */
  breakAfter?: number;
  /**
   * Response headers of every chat completion, set after its own `x-ratelimit-*` (so they replace
   * them): an upstream, or a proxy before it, that sends odd values. Default: none.
   */
  headers?: Record<string, string>;
  /** The models served (and listed): any other is answered 404 `model_not_found`, as OpenAI does. Default: MODELS, and any model is served (env SIMULATOR_MODELS). */
  models?: string[];
  /**
   * How long a Batch API batch (`/v1/batches`) runs before it completes, or expires when a
   * request in it carries `[[sim batch=expired]]`. Default 1000 (`npm run simulator`: 10000,
   * env SIMULATOR_BATCH_DELAY_MS).
   */
  batchDelayMs?: number;
}

export interface SimulatorStats {
  requests: number;
  completed: number;
  rateLimited: number;
  faulted: number;
  aborted: number;
  active: number;
}

export interface Simulator {
  /** Starts listening (port 0 and host 127.0.0.1 by default); resolves to the base URL, ".../v1". */
  listen(port?: number, host?: string): Promise<string>;
  /** Closes the server and destroys every open connection and stream. */
  close(): Promise<void>;
  readonly stats: SimulatorStats;
  /**
   * `request` ({ id, model, messages, stream, directive, headers }) for every parsed completion request,
   * `completed` ({ id, finishReason }), `aborted` ({ id, chunksSent }) when the client left first,
   * `rate_limited` ({ id }). `id` is the response's x-request-id. `batch` ({ id, status }) each
   * time a Batch API batch changes status.
   */
  readonly events: EventEmitter;
}

export const MODELS = ['gpt-4o-mini', 'gpt-4o', 'gpt-4.1-mini', 'gpt-4.1', 'o4-mini'];
const MODELS_CREATED = 1_715_367_049;

export function createSimulator(options: SimulatorOptions = {}): Simulator {
  return new SimulatorServer(options);
}

class SimulatorServer implements Simulator {
  readonly events = new EventEmitter();
  private readonly counters: SimulatorStats = { requests: 0, completed: 0, rateLimited: 0, faulted: 0, aborted: 0, active: 0 };
  private readonly server: Server;
  private readonly writers = new Set<CompletionWriter>();
  private readonly writeBudget: number;
  private readonly faultCounts = new Map<string, number>();
  private readonly requestLimiter?: SlidingWindowLimiter;
  private readonly tokenLimiter?: SlidingWindowLimiter;
  private readonly batchApi: BatchApi;
  private closing = false;

  constructor(private readonly options: SimulatorOptions) {
    if (options.rpm !== undefined) this.requestLimiter = new SlidingWindowLimiter(options.rpm);
    if (options.tpm !== undefined) this.tokenLimiter = new SlidingWindowLimiter(options.tpm);
    this.writeBudget = options.maxWritesPerSecond ?? 20_000;
    this.batchApi = new BatchApi({ delayMs: options.batchDelayMs ?? 1000, events: this.events, countFault: (directive) => this.countFault(directive) });
    this.server = createServer((request, response) => this.route(request, response));
  }

  get stats(): SimulatorStats {
    return { ...this.counters };
  }

  listen(port = 0, host = '127.0.0.1'): Promise<string> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const address = this.server.address() as AddressInfo;
        const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
        resolve(`http://${shown}:${address.port}/v1`);
      });
    });
  }

  close(): Promise<void> {
    this.closing = true;
    for (const writer of this.writers) writer.cancel();
    this.batchApi.close();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private route(request: IncomingMessage, response: ServerResponse): void {
    const id = randomUUID().replaceAll('-', '');
    response.setHeader('x-request-id', `req_${id}`);
    const url = request.url ?? '/';
    const path = url.includes('?') ? url.slice(0, url.indexOf('?')) : url;
    const method = request.method ?? 'GET';
    if (method === 'GET' && path === '/sim/stats') return sendJson(response, 200, this.stats);
    if (path.startsWith('/v1/') && !this.authorized(request)) {
      return sendJson(response, 401, {
        error: {
          message: 'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.',
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_api_key',
        },
      });
    }
    if (method === 'POST' && path === '/v1/chat/completions') {
      // An unexpected error must not take the process down; the client sees a 500 or a cut stream.
      this.complete(request, response, id).catch(() => {
        if (response.headersSent) response.destroy();
        else sendJson(response, 500, faultError(500));
      });
      return;
    }
    if (method === 'GET' && path === '/v1/models') {
      const data = (this.options.models ?? MODELS).map((model) => ({ id: model, object: 'model', created: MODELS_CREATED, owned_by: 'spool-simulator' }));
      return sendJson(response, 200, { object: 'list', data });
    }
    const query = new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');
    const batchAnswer = this.batchApi.route(method, path, query, request);
    if (batchAnswer) {
      batchAnswer.then(
        (answer) => sendAnswer(response, answer),
        () => sendJson(response, 500, faultError(500)),
      );
      return;
    }
    sendJson(response, 404, { error: { message: `Invalid URL (${method} ${path})`, type: 'invalid_request_error', param: null, code: null } });
  }

  private authorized(request: IncomingMessage): boolean {
    return this.options.apiKey === undefined || request.headers.authorization === `Bearer ${this.options.apiKey}`;
  }

  private async complete(request: IncomingMessage, response: ServerResponse, id: string): Promise<void> {
    const requestId = `req_${id}`;
    this.counters.requests++;
    this.counters.active++;
    let ended = false;
    let closed = false;
    let writer: CompletionWriter | undefined;
    response.once('close', () => {
      closed = true;
      this.counters.active--;
      if (writer) {
        writer.cancel();
        this.writers.delete(writer);
      }
      if (!ended && !this.closing) {
        this.counters.aborted++;
        this.events.emit('aborted', { id: requestId, chunksSent: writer?.chunksSent ?? 0 });
      }
    });
    const fail = (status: number, body: OpenAIErrorBody, headers?: Record<string, string>) => {
      ended = true;
      sendJson(response, status, body, headers);
    };

    let text: string;
    try {
      text = await readBody(request);
    } catch (error) {
      if (error instanceof BodyTooLargeError) fail(413, invalidRequest(error.message, null));
      return;
    }
    // From here to writer.start() nothing awaits, so the close handler sees the writer or this return.
    if (closed) return;
    const body = parseCompletionBody(text);
    if ('error' in body) return fail(400, body);
    let directive: Directive | undefined;
    let reply: SimulatedReply;
    let promptTokens: number;
    try {
      directive = findDirective(body.messages);
      reply = simulateReply(body);
      promptTokens = countPromptTokens(body.messages);
    } catch (error) {
      if (error instanceof DirectiveError) return fail(400, invalidRequest(error.message, 'messages'));
      throw error;
    }
    const stream = body.stream === true;
    this.events.emit('request', { id: requestId, model: body.model, messages: body.messages, stream, directive, headers: request.headers });

    if (this.options.models && !this.options.models.includes(body.model)) {
      const message = `The model \`${body.model}\` does not exist or you do not have access to it.`;
      return fail(404, { error: { message, type: 'invalid_request_error', param: null, code: 'model_not_found' } });
    }

    const plannedTokens = promptTokens + (body.max_tokens ?? body.max_completion_tokens ?? reply.tokens.length);
    const limited = this.checkRateLimits(response, plannedTokens);
    for (const [name, value] of Object.entries(this.options.headers ?? {})) response.setHeader(name, value);
    if (limited) {
      this.counters.rateLimited++;
      this.events.emit('rate_limited', { id: requestId });
      return fail(429, limited.body, limited.headers);
    }

    if (this.options.faultStatus !== undefined) {
      this.counters.faulted++;
      return fail(this.options.faultStatus, faultError(this.options.faultStatus));
    }
    const fault = directive && hasFault(directive, this.options.name) && this.countFault(directive) ? directive : undefined;
    if (fault?.status !== undefined) {
      this.counters.faulted++;
      const headers: Record<string, string> = {};
      if (fault.retryAfterMs !== undefined) {
        headers['retry-after-ms'] = String(fault.retryAfterMs);
        headers['retry-after'] = String(Math.ceil(fault.retryAfterMs / 1000));
      }
      return fail(fault.status, faultError(fault.status, fault.code), headers);
    }
    const bodyFault = (fault && selectBodyFault(fault, reply.tokens.length, stream)) || this.instanceBreak(reply.tokens.length);
    if (bodyFault) this.counters.faulted++;

    writer = new CompletionWriter(response, planCompletion({ id, body, reply, promptTokens, fault: bodyFault, directive, defaults: this.options }), {
      onEnd: (finishReason) => {
        ended = true;
        if (finishReason === null) return;
        this.counters.completed++;
        this.events.emit('completed', { id: requestId, finishReason });
      },
      // A write costs about the same for one token or ten; the budget caps writes, not tokens.
      writeGapMs: () => (this.writers.size * 1000) / this.writeBudget,
    });
    this.writers.add(writer);
    writer.start();
  }

  /** The `breakAfter` option's break, when the reply is longer than that (a break leaves a strict prefix). */
  private instanceBreak(length: number): BodyFault | undefined {
    const after = this.options.breakAfter;
    return after !== undefined && after < length ? { kind: 'break', after } : undefined;
  }

  /** Counts one more request carrying this directive; false once `times` is used up. */
  private countFault(directive: Directive): boolean {
    if (directive.times === undefined) return true;
    const count = (this.faultCounts.get(directive.text) ?? 0) + 1;
    this.faultCounts.set(directive.text, count);
    return count <= directive.times;
  }

  /** Sets the x-ratelimit headers; returns the 429 to send when a limit is reached. */
  private checkRateLimits(response: ServerResponse, tokens: number) {
    const now = Date.now();
    const requests = this.requestLimiter?.evaluate(1, now);
    const tokenDecision = this.tokenLimiter?.evaluate(tokens, now);
    if (requests) setRateHeaders(response, 'requests', requests);
    if (tokenDecision) setRateHeaders(response, 'tokens', tokenDecision);
    const [kind, decision, amount] =
      requests && !requests.allowed
        ? (['requests', requests, 1] as const)
        : tokenDecision && !tokenDecision.allowed
          ? (['tokens', tokenDecision, tokens] as const)
          : [];
    if (!kind) {
      this.requestLimiter?.record(1, now);
      this.tokenLimiter?.record(tokens, now);
      return undefined;
    }
    const unit = kind === 'requests' ? 'RPM' : 'TPM';
    const message =
      `Rate limit reached for ${kind} per min (${unit}): Limit ${decision.limit}, Used ${decision.used}, ` +
      `Requested ${amount}. Please try again in ${formatDuration(decision.retryAfterMs)}.`;
    return {
      body: { error: { message, type: kind, param: null, code: 'rate_limit_exceeded' } },
      headers: {
        'retry-after': String(Math.ceil(decision.retryAfterMs / 1000)),
        'retry-after-ms': String(decision.retryAfterMs),
      },
    };
  }
}

function setRateHeaders(response: ServerResponse, kind: 'requests' | 'tokens', decision: RateDecision): void {
  response.setHeader(`x-ratelimit-limit-${kind}`, String(decision.limit));
  response.setHeader(`x-ratelimit-remaining-${kind}`, String(decision.remaining));
  response.setHeader(`x-ratelimit-reset-${kind}`, formatDuration(decision.resetMs));
}

function sendAnswer(response: ServerResponse, answer: RouteAnswer): void {
  if ('body' in answer) return sendJson(response, answer.status, answer.body);
  response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': answer.file.length });
  response.end(answer.file);
}

function sendJson(response: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value);
  response.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  response.end(body);
}
