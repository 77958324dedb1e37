import { execFileSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { SpanKind } from '@opentelemetry/api';
import { spansIn } from '../../../test/support/otlp.js';
import { Receiver } from '../../../test/support/receiver.js';
import { OffThreadTracer } from './off-thread-tracer.js';

/** Every span the receiver has been sent. */
const exported = () => spansIn(receiver.at('/v1/traces'));
const CALLER = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

const receiver = new Receiver();

describe('OffThreadTracer', () => {
  let endpoint: string;
  beforeAll(async () => {
    endpoint = await receiver.listen();
  });
  afterAll(() => receiver.close());

  it('is off without an endpoint', async () => {
    expect(await OffThreadTracer.start({ serviceName: 'test' })).toBeUndefined();
  });

  it("exports its spans from its thread with the ids, parent, times, attributes and status the request thread gave them; shutdown sends what it still holds", async () => {
    const tracer = (await OffThreadTracer.start({ endpoint, protocol: 'http/json', serviceName: 'spool-test', env: {} }))!;
    const before = Date.now();
    const child = tracer.startSpan('POST /v1/jobs', SpanKind.SERVER, { 'http.route': '/v1/jobs' }, CALLER);
    child.setAttribute('http.response.status_code', 202);
    child.end();
    const root = tracer.startSpan('POST /v1/batches', SpanKind.SERVER, {});
    root.fail('HTTP 503');
    root.end();
    root.end(); // a second end sends nothing more
    await tracer.shutdown();
    const after = Date.now();

    expect(child.traceparent).toBe(`00-0af7651916cd43dd8448eb211c80319c-${child.spanId}-01`);
    expect(root.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(root.traceId).not.toBe(child.traceId);
    expect(exported()).toHaveLength(2);
    const [exportedChild, exportedRoot] = [child, root].map((span) => exported().find((each) => each.spanId === span.spanId)!);
    expect(exportedChild).toMatchObject({ service: 'spool-test', name: 'POST /v1/jobs', kind: 2, traceId: child.traceId, parentSpanId: 'b7ad6b7169203331' });
    expect(exportedChild.attributes).toEqual({ 'http.route': '/v1/jobs', 'http.response.status_code': 202 });
    expect(exportedChild.startMs).toBeGreaterThanOrEqual(before - 1);
    expect(exportedChild.endMs).toBeGreaterThanOrEqual(exportedChild.startMs);
    expect(exportedChild.endMs).toBeLessThanOrEqual(after + 1);
    expect(exportedRoot).toMatchObject({ traceId: root.traceId, parentSpanId: undefined, statusCode: 2, statusMessage: 'HTTP 503' });
  });

  it("samples as OTEL_TRACES_SAMPLER says and follows a caller's unsampled flag: such spans carry flags 00 and are not exported", async () => {
    const before = exported().length;
    const parentBased = (await OffThreadTracer.start({ endpoint, protocol: 'http/json', serviceName: 'spool-test', env: {} }))!;
    const unsampled = parentBased.startSpan('POST /v1/jobs', SpanKind.SERVER, {}, CALLER.replace(/-01$/, '-00'));
    unsampled.end();
    await parentBased.shutdown();
    expect(unsampled.traceparent).toBe(`00-0af7651916cd43dd8448eb211c80319c-${unsampled.spanId}-00`);

    const off = (await OffThreadTracer.start({ endpoint, protocol: 'http/json', serviceName: 'spool-test', env: { OTEL_TRACES_SAMPLER: 'always_off' } }))!;
    const dropped = off.startSpan('POST /v1/jobs', SpanKind.SERVER, {});
    dropped.end();
    await off.shutdown();
    expect(dropped.traceparent).toMatch(/-00$/);
    expect(exported()).toHaveLength(before);
  });

  describe('as the SDK', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('times a span from the wall clock, its duration from the monotonic clock: a wall clock set after start moves its spans too', async () => {
      const tracer = (await OffThreadTracer.start({ endpoint, protocol: 'http/json', serviceName: 'spool-test', env: {} }))!;
      const wallClock = Date.now() + 3_600_000;
      vi.useFakeTimers({ toFake: ['Date'], now: wallClock });
      const span = tracer.startSpan('POST /v1/jobs', SpanKind.SERVER, {});
      span.end();
      vi.useRealTimers();
      await tracer.shutdown();
      const made = exported().find((each) => each.spanId === span.spanId)!;
      expect(made.startMs).toBe(wallClock);
      expect(made.endMs - wallClock).toBeLessThan(1000);
    });

    it('says what is wrong with the SDK variables it ignores, those the thread reads included', async () => {
      const said: string[] = [];
      const logger = { warn: (text: string) => said.push(text), error: (text: string) => said.push(text) };
      const env = { OTEL_TRACES_SAMPLER: 'bogus', OTEL_BSP_MAX_QUEUE_SIZE: 'many' };
      const tracer = (await OffThreadTracer.start({ endpoint, protocol: 'http/json', serviceName: 'spool-test', env, logger }))!;
      await tracer.shutdown();
      expect(said).toEqual(expect.arrayContaining([expect.stringContaining('OTEL_TRACES_SAMPLER'), expect.stringContaining('OTEL_BSP_MAX_QUEUE_SIZE')]));
      const ratio = (await OffThreadTracer.start({ endpoint, protocol: 'http/json', serviceName: 'spool-test', env: { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' }, logger }))!;
      await ratio.shutdown();
      expect(said).toEqual(expect.arrayContaining([expect.stringContaining('OTEL_TRACES_SAMPLER_ARG=2')]));
    });
  });

  it('drops spans past 8,192 the thread has not made: one warning for an overload however long, and the count once it caught up', async () => {
    // Only what the tracer says of its thread: the SDK's batch processor has its own queue and warnings.
    const said: string[] = [];
    const logger = { warn: (text: string) => text.includes('tracing thread') && said.push(text), error: () => undefined };
    const tracer = (await OffThreadTracer.start({ endpoint, protocol: 'http/json', serviceName: 'spool-test', env: {}, logger }))!;
    // The thread's answers, awaited as the request thread would meet them between requests.
    const thread = (tracer as unknown as { thread: import('node:worker_threads').Worker }).thread;
    const madeOnce = () => new Promise((resolve) => thread.once('message', resolve));
    const spans = (count: number) => {
      for (let i = 0; i < count; i++) tracer.startSpan('POST /v1/jobs', SpanKind.SERVER, {}).end();
    };
    for (let round = 0; round < 5; round++) {
      spans(8192 + 100);
      await madeOnce();
    }
    expect(said).toEqual([expect.stringContaining('spans are dropped')]);
    while ((tracer as unknown as { pending: number }).pending > 0) await madeOnce();
    spans(1);
    expect(said[1]).toMatch(/caught up; \d+ spans were dropped/);
    await tracer.shutdown(1);
  });

  it("loads none of OpenTelemetry's implementation when only imported (tracing off)", () => {
    const script = "await import('./packages/tracing/src/index.ts'); const { createRequire } = await import('node:module'); console.log(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));";
    const loaded = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' })) as string[];
    expect(loaded.filter((path) => path.includes('@opentelemetry/') && !path.includes('@opentelemetry/api/'))).toEqual([]);
  });
});
