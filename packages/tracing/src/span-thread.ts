/**
 * The tracing thread of an `OffThreadTracer`: it makes the SDK's spans from the records its
 * owner sends (ids, times, attributes), and the SDK batches and exports them as usual.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { diag, DiagLogLevel, ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api';
import type { IdGenerator } from '@opentelemetry/sdk-trace-node';
import { createProvider } from './provider.js';
import { diagLogger } from './diag-logger.js';
import type { SpanRecord, ThreadMessage, ThreadOptions } from './off-thread-tracer.js';

/** The ids the owner chose: the SDK asks for a span's ids as it makes it. */
class HandedIds implements IdGenerator {
  traceId = '';
  spanId = '';
  generateTraceId = () => this.traceId;
  generateSpanId = () => this.spanId;
}

/**
 * Lowers this thread's priority (Linux: a thread's own nice value, set through its thread id):
 * when the cores are busy, serving requests comes first and spans wait; elsewhere nothing changes.
 */
function yieldToRequests(): void {
  try {
    const threadId = Number(readlinkSync('/proc/thread-self').split('/').pop());
    setPriority(threadId, 10);
  } catch {
    // not Linux, or not allowed: the thread runs at the process's priority
  }
}

yieldToRequests();
const port = parentPort!;
const options = workerData as ThreadOptions;
diag.setLogger(diagLogger({ warn: (text) => port.postMessage({ warn: text }), error: (text) => port.postMessage({ warn: text }) }), DiagLogLevel.WARN);
const ids = new HandedIds();
const { AlwaysOnSampler } = await import('@opentelemetry/sdk-trace-node');
// The owner sampled already: only spans to record come here.
const provider = await createProvider(options, { idGenerator: ids, sampler: new AlwaysOnSampler() });
const tracer = provider.getTracer('spool');

function record(span: SpanRecord): void {
  ids.traceId = span.traceId;
  ids.spanId = span.spanId;
  const parent = span.parentSpanId
    ? trace.setSpanContext(ROOT_CONTEXT, { traceId: span.traceId, spanId: span.parentSpanId, traceFlags: span.traceFlags, isRemote: true })
    : ROOT_CONTEXT;
  const made = tracer.startSpan(span.name, { kind: span.kind, attributes: span.attributes, startTime: span.startMs }, parent);
  if (span.error !== undefined) made.setStatus({ code: SpanStatusCode.ERROR, message: span.error });
  made.end(span.endMs);
}

port.on('message', (message: ThreadMessage) => {
  if ('spans' in message) {
    const spans = JSON.parse(message.spans) as SpanRecord[];
    for (const span of spans) record(span);
    port.postMessage({ made: spans.length });
  } else void provider.shutdown().finally(() => port.postMessage({ stopped: true }));
});
port.postMessage({ ready: true });
