import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { context, propagation, trace } from '@opentelemetry/api';
import { startTracing } from './start-tracing.js';
import { contextOf, spoolTracer, traceLogFields } from './trace-context.js';

/** The active context's `traceparent`, as a job's record would carry it. */
function activeTraceparent(): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

/** A local OTLP/HTTP receiver: every request's path, headers and body. */
function otlpReceiver() {
  const received: { path: string; headers: IncomingHttpHeaders; body: Buffer }[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ path: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks) });
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return {
    received,
    async listen(): Promise<string> {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

describe('startTracing', () => {
  const receiver = otlpReceiver();
  let endpoint: string;

  beforeAll(async () => {
    endpoint = await receiver.listen();
  });
  afterAll(() => receiver.close());

  // The SDK registers itself globally, once per process: the test without it comes first.
  it('loads nothing without an endpoint: spans are no-ops, no traceparent, no log fields', async () => {
    const tracing = await startTracing({ serviceName: 'test', env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${endpoint}/v1/traces` } });
    expect(tracing.enabled).toBe(false);
    const span = spoolTracer().startSpan('nothing');
    expect(span.isRecording()).toBe(false);
    context.with(trace.setSpan(context.active(), span), () => {
      expect(activeTraceparent()).toBeUndefined();
      expect(traceLogFields()).toEqual({});
    });
    span.end();
    await tracing.shutdown();
    expect(receiver.received).toEqual([]);
  });

  it('exports spans over OTLP/HTTP (protobuf by default) under the service name, joins a stored traceparent, and names the trace in log fields', async () => {
    const tracing = await startTracing({ endpoint: `${endpoint}/`, serviceName: 'spool-test', env: {} });
    expect(tracing.enabled).toBe(true);
    const parent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const span = spoolTracer().startSpan('child', {}, contextOf(parent));
    context.with(trace.setSpan(context.active(), span), () => {
      expect(span.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
      expect(activeTraceparent()).toBe(`00-0af7651916cd43dd8448eb211c80319c-${span.spanContext().spanId}-01`);
      expect(traceLogFields()).toEqual({ trace_id: '0af7651916cd43dd8448eb211c80319c', span_id: span.spanContext().spanId });
    });
    expect(traceLogFields()).toEqual({});
    span.end();
    await tracing.shutdown();
    expect(receiver.received).toHaveLength(1);
    const [request] = receiver.received;
    expect(request.path).toBe('/v1/traces');
    expect(request.headers['content-type']).toBe('application/x-protobuf');
    // Protobuf carries strings as they are: the service and span names are readable in the bytes.
    expect(request.body.includes('spool-test')).toBe(true);
    expect(request.body.includes('child')).toBe(true);
    expect(request.body.includes(Buffer.from('0af7651916cd43dd8448eb211c80319c', 'hex'))).toBe(true);
  });
});
