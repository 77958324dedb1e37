import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { ROOT_CONTEXT, defaultTextMapGetter, trace, type Attributes, type AttributeValue, type SpanKind, type TextMapPropagator } from '@opentelemetry/api';
import type { Sampler } from '@opentelemetry/sdk-trace-node';
import { withTimeout } from '@spool/contracts';
import type { OtlpProtocol, TracingOptions } from './start-tracing.js';

/** What the tracing thread needs of a span to make the SDK's span. */
export interface SpanRecord {
  name: string;
  kind: SpanKind;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  startMs: number;
  endMs: number;
  attributes: Attributes;
  error?: string;
}

/** `spans`: a JSON array of `SpanRecord`s (one string copies cheaper between threads than as many objects). */
export type ThreadMessage = { spans: string } | { stop: true };
export interface ThreadOptions {
  endpoint: string;
  protocol?: OtlpProtocol;
  serviceName: string;
}

/** Records sent to the thread together: one message per this many spans, or per `FLUSH_MS`. */
const BATCH = 256;
const FLUSH_MS = 100;
/** Spans sent and not yet made by the thread past which new ones are dropped, as the SDK's batch processor drops past its queue: a thread that falls behind holds no more than this. */
const MAX_PENDING = 8192;

/** All zeros: the W3C's invalid trace and span ids. */
const INVALID = { 8: '0'.repeat(16), 16: '0'.repeat(32) };

/** Random ids cut from a pool of hex digits refilled 4 KB of randomness at a time (one random call and one hex encoding per 170 spans). */
class IdPool {
  private pool = '';
  private offset = 0;

  next(bytes: 8 | 16): string {
    const digits = bytes * 2;
    for (;;) {
      if (this.offset + digits > this.pool.length) {
        this.pool = randomBytes(4096).toString('hex');
        this.offset = 0;
      }
      const id = this.pool.slice(this.offset, (this.offset += digits));
      if (id !== INVALID[bytes]) return id;
    }
  }
}

/**
 * A span of an `OffThreadTracer`: its ids, start and attributes are kept here, and the SDK's
 * span is made on the tracing thread once it ends. An unsampled span still has ids and a
 * `traceparent` (flags 00), so that what it leads to is not sampled either.
 */
export class HandedSpan {
  /**
   * The start from the wall clock and the duration from the monotonic one, as the SDK's spans
   * have them: `performance.timeOrigin + performance.now()` drifts from the wall clock over a
   * long-lived process, and the other processes' spans of the trace are on the wall clock.
   */
  readonly startMs = Date.now();
  private readonly startedAt = performance.now();
  private error?: string;
  private ended = false;

  constructor(
    private readonly owner: OffThreadTracer,
    readonly name: string,
    readonly kind: SpanKind,
    private readonly attributes: Attributes,
    readonly traceId: string,
    readonly spanId: string,
    readonly parentSpanId: string | undefined,
    readonly sampled: boolean,
  ) {}

  /** The W3C `traceparent` of this span, for what it leads to. */
  get traceparent(): string {
    return `00-${this.traceId}-${this.spanId}-${this.sampled ? '01' : '00'}`;
  }

  setAttribute(key: string, value: AttributeValue): void {
    this.attributes[key] = value;
  }

  /** Marks the span failed (status ERROR with `message`). */
  fail(message: string): void {
    this.error = message;
  }

  end(): void {
    if (this.ended || !this.sampled) return;
    this.ended = true;
    const { name, kind, traceId, spanId, parentSpanId, startMs, attributes, error } = this;
    this.owner.hand({ name, kind, traceId, spanId, parentSpanId, startMs, endMs: startMs + (performance.now() - this.startedAt), attributes, error });
  }
}

/**
 * The sampler OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG name, as the SDK reads them
 * (default: parentbased_always_on), with the SDK's complaint about a value it ignores.
 */
async function samplerFromEnv(env: NodeJS.ProcessEnv, logger?: TracingOptions['logger']): Promise<Sampler> {
  const { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, TraceIdRatioBasedSampler } = await import('@opentelemetry/sdk-trace-node');
  const ratio = () => {
    const arg = env.OTEL_TRACES_SAMPLER_ARG?.trim() ? Number(env.OTEL_TRACES_SAMPLER_ARG) : NaN;
    if (arg >= 0 && arg <= 1) return new TraceIdRatioBasedSampler(arg);
    logger?.error(`opentelemetry: OTEL_TRACES_SAMPLER_ARG=${env.OTEL_TRACES_SAMPLER_ARG ?? ''} is not a ratio in [0..1]; defaulting to 1`);
    return new TraceIdRatioBasedSampler(1);
  };
  const name = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase();
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio();
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio() });
    default:
      if (name && name !== 'parentbased_always_on') logger?.error(`opentelemetry: OTEL_TRACES_SAMPLER value "${env.OTEL_TRACES_SAMPLER}" invalid, defaulting to "parentbased_always_on"`);
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/**
 * A tracer whose spans become the SDK's spans on a thread of their own, where they are batched
 * and exported over OTLP as `startTracing`'s are. The request thread only picks ids, samples,
 * and notes times and attributes: making, batching and encoding spans on it took a tenth of a
 * busy API's CPU per submission. No async context either (its promise hooks took about another
 * tenth): a span is handed on by whoever holds it.
 */
export class OffThreadTracer {
  private readonly ids = new IdPool();
  private buffer: SpanRecord[] = [];
  private timer?: NodeJS.Timeout;
  /** spans posted to the thread that it has not made yet */
  private pending = 0;
  /** spans dropped since the thread fell behind; dropping goes on until it is half caught up, so that an overload is one warning, not one per batch the thread makes */
  private dropped = 0;
  private broken = false;
  private stopped?: Promise<void>;

  private constructor(
    private readonly thread: Worker,
    private readonly propagator: TextMapPropagator,
    private readonly sampler: Sampler,
    /** the SDK's SamplingDecision.RECORD_AND_SAMPLED: only such spans are exported, as by its batch processor */
    private readonly recordAndSampled: number,
    private readonly logger?: TracingOptions['logger'],
  ) {
    thread.on('message', (message: { warn?: string; made?: number }) => {
      if (message.warn) logger?.warn(message.warn);
      if (message.made) this.pending -= message.made;
    });
    thread.on('error', (error) => {
      this.broken = true;
      logger?.error(`opentelemetry: the tracing thread failed, spans are no longer exported: ${error.message}`);
    });
    thread.unref();
  }

  /** Starts the tracing thread when an OTLP endpoint is set; undefined (tracing off) without one. */
  static async start(options: TracingOptions): Promise<OffThreadTracer | undefined> {
    if (!options.endpoint) return undefined;
    // Loaded only now, as the SDK is: a process without tracing never pays for them.
    const [{ SamplingDecision }, { W3CTraceContextPropagator }] = await Promise.all([import('@opentelemetry/sdk-trace-node'), import('@opentelemetry/core')]);
    const sampler = await samplerFromEnv(options.env ?? process.env, options.logger);
    const data: ThreadOptions = { endpoint: options.endpoint, protocol: options.protocol, serviceName: options.serviceName };
    // The thread's code is TypeScript: it registers tsx's loader before it loads it.
    const tsx = import.meta.resolve('tsx/esm/api');
    const entry = new URL('./span-thread.ts', import.meta.url).href;
    const thread = new Worker(`import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`, {
      eval: true,
      workerData: data,
      env: options.env ?? process.env,
    });
    await new Promise<void>((resolve, reject) => {
      const exited = (code: number) => reject(new Error(`the tracing thread exited (${code}) before it was ready`));
      // What the SDK says of its variables as the thread starts comes before `ready`.
      const onMessage = (message: { warn?: string; ready?: boolean }) => {
        if (message.warn) options.logger?.warn(message.warn);
        if (!message.ready) return;
        thread.off('message', onMessage).off('error', reject).off('exit', exited);
        resolve();
      };
      thread.on('message', onMessage).once('error', reject).once('exit', exited);
    });
    return new OffThreadTracer(thread, new W3CTraceContextPropagator(), sampler, SamplingDecision.RECORD_AND_SAMPLED, options.logger);
  }

  /** A span, the child of the caller's `traceparent` when it is a valid one, sampled as the sampler decides. */
  startSpan(name: string, kind: SpanKind, attributes: Attributes, callerTraceparent?: string): HandedSpan {
    const parentContext = callerTraceparent ? this.propagator.extract(ROOT_CONTEXT, { traceparent: callerTraceparent }, defaultTextMapGetter) : ROOT_CONTEXT;
    const parent = trace.getSpanContext(parentContext);
    const traceId = parent?.traceId ?? this.ids.next(16);
    const sampled = this.sampler.shouldSample(parentContext, traceId, name, kind, attributes, []).decision === this.recordAndSampled;
    return new HandedSpan(this, name, kind, attributes, traceId, this.ids.next(8), parent?.spanId, sampled);
  }

  /** Takes an ended span for the thread; sent with others at most `FLUSH_MS` later. */
  hand(span: SpanRecord): void {
    if (this.broken || this.stopped) return;
    const held = this.pending + this.buffer.length;
    if (held >= (this.dropped > 0 ? MAX_PENDING / 2 : MAX_PENDING)) {
      if (this.dropped++ === 0) this.logger?.warn(`opentelemetry: the tracing thread is ${MAX_PENDING} spans behind; spans are dropped until it catches up`);
      return;
    }
    if (this.dropped > 0) this.logger?.warn(`opentelemetry: the tracing thread caught up; ${this.dropped} spans were dropped`);
    this.dropped = 0;
    this.buffer.push(span);
    if (this.buffer.length >= BATCH) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_MS).unref();
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length === 0 || this.broken) return;
    this.thread.postMessage({ spans: JSON.stringify(this.buffer) } satisfies ThreadMessage);
    this.pending += this.buffer.length;
    this.buffer = [];
  }

  /** Sends the spans still held (for up to `timeoutMs`: a collector that is down holds no exit up) and stops the thread; safe to call twice. */
  shutdown(timeoutMs = 5000): Promise<void> {
    return (this.stopped ??= this.stop(timeoutMs));
  }

  private async stop(timeoutMs: number): Promise<void> {
    this.flush();
    if (!this.broken) {
      this.thread.ref();
      const stopped = new Promise<void>((resolve) => this.thread.on('message', (message: { stopped?: boolean }) => message.stopped && resolve()));
      this.thread.postMessage({ stop: true } satisfies ThreadMessage);
      await withTimeout(stopped, timeoutMs).catch((error: unknown) => this.logger?.warn(`opentelemetry: spans not all sent at exit: ${String(error)}`));
    }
    await this.thread.terminate();
  }
}
