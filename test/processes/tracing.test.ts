import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Redis } from 'ioredis';
import { createKeys } from '@spool/queue';
import { deletePrefix, REDIS_URL } from '../support/stack.js';
import { getJson, postJson } from '../support/http.js';
import { startApiProcess, startSimulatorProcess, startWorkerProcess, type Child } from '../support/processes.js';
import { Receiver } from '../support/receiver.js';
import { spansIn, type ExportedSpan } from '../support/otlp.js';

const SPAN_KIND = { internal: 1, server: 2, client: 3, consumer: 5 };
const STATUS_ERROR = 2;

/** The first JSON log line of `child` with message `msg` about `jobId`. */
function logLine(child: Child, msg: string, jobId: string): Record<string, unknown> | undefined {
  return child.output
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .find((line) => line.msg === msg && line.job_id === jobId);
}

async function finished(api: string, jobId: string): Promise<any> {
  const { body } = await getJson(`${api}/v1/jobs/${jobId}?wait=30`);
  if (body.status === 'queued' || body.status === 'running') return finished(api, jobId);
  return body;
}

describe('OpenTelemetry tracing across the real API and worker processes', () => {
  const receiver = new Receiver();
  const children: Child[] = [];
  const prefixes: string[] = [];
  let simulatorUrl: string;

  /** An API and a worker on a fresh prefix, sharing `env`. */
  async function startPair(env: Record<string, string>): Promise<{ api: string; apiChild: Child; worker: Child; prefix: string }> {
    const prefix = `test-${randomUUID().slice(0, 12)}`;
    prefixes.push(prefix);
    const shared = { REDIS_URL, SPOOL_PREFIX: prefix, OPENAI_BASE_URL: simulatorUrl, SPOOL_WEBHOOK_ALLOW_PRIVATE: 'true', SPOOL_METRICS_PORT: '0', ...env };
    const [{ child: apiChild, url: api }, worker] = await Promise.all([startApiProcess(shared), startWorkerProcess(shared)]);
    children.push(apiChild, worker);
    return { api, apiChild, worker, prefix };
  }

  beforeAll(async () => {
    await receiver.listen();
    receiver.on('/v1/traces');
    receiver.on('/off/v1/traces');
    receiver.on('/hook');
    receiver.on('/hook-off');
    const simulator = await startSimulatorProcess({ SIMULATOR_TTFT_MS: '0', SIMULATOR_TOKENS_PER_SECOND: '1000' });
    children.push(simulator.child);
    simulatorUrl = simulator.url;
  }, 60_000);

  afterAll(async () => {
    await Promise.all(children.map((child) => child.stop('SIGTERM')));
    await receiver.close();
    await Promise.all(prefixes.map(deletePrefix));
  });

  describe('with OTEL_EXPORTER_OTLP_ENDPOINT set', () => {
    let api: string;
    let apiChild: Child;
    let worker: Child;
    let prefix: string;

    beforeAll(async () => {
      ({ api, apiChild, worker, prefix } = await startPair({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '100' }));
    }, 60_000);

    /** The spans of `traceId` once every name in `names` is among them. */
    async function traceWith(traceId: () => string | undefined, names: string[]): Promise<ExportedSpan[]> {
      return vi.waitFor(
        () => {
          const id = traceId();
          const spans = spansIn(receiver.at('/v1/traces')).filter((span) => id && span.traceId === id);
          const missing = names.filter((name) => !spans.some((span) => span.name === name));
          if (missing.length) throw new Error(`trace ${id} lacks ${missing.join(', ')}`);
          return spans;
        },
        { timeout: 20_000, interval: 50 },
      );
    }

    it('makes one job one trace: submission, queue wait, attempt, GenAI upstream call and webhook delivery, parented, with trace_id in the logs', async () => {
      const submitted = await postJson(`${api}/v1/jobs`, { messages: [{ role: 'user', content: 'trace me' }], max_tokens: 64, webhook: { url: `${receiver.url}/hook` } });
      expect(submitted.status).toBe(202);
      const jobId = submitted.body.id as string;
      const job = await finished(api, jobId);
      expect(job.status).toBe('succeeded');

      const submissionOf = () => spansIn(receiver.at('/v1/traces')).find((span) => span.name === 'POST /v1/jobs' && span.attributes['spool.job.id'] === jobId);
      const spans = await traceWith(() => submissionOf()?.traceId, ['POST /v1/jobs', 'queue wait', 'attempt', 'chat gpt-4o-mini', 'webhook delivery']);
      const byName = (name: string) => spans.filter((span) => span.name === name);
      const [submission] = byName('POST /v1/jobs');
      const [wait] = byName('queue wait');
      const [attempt] = byName('attempt');
      const [call] = byName('chat gpt-4o-mini');
      const [delivery] = byName('webhook delivery');

      expect(submission).toMatchObject({ service: 'spool-api', kind: SPAN_KIND.server, parentSpanId: undefined });
      expect(submission.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/v1/jobs', 'http.response.status_code': 202 });
      expect(wait).toMatchObject({ service: 'spool-worker', parentSpanId: submission.spanId, attributes: { 'spool.job.id': jobId } });
      expect(attempt).toMatchObject({ service: 'spool-worker', kind: SPAN_KIND.consumer, parentSpanId: submission.spanId, attributes: { 'spool.job.id': jobId, 'spool.attempt': 1 } });
      expect(wait.startMs).toBeLessThanOrEqual(wait.endMs);
      expect(wait.endMs).toBe(attempt.startMs);
      expect(call).toMatchObject({ service: 'spool-worker', kind: SPAN_KIND.client, parentSpanId: attempt.spanId });
      expect(call.attributes).toMatchObject({
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.system': 'openai',
        'gen_ai.request.model': 'gpt-4o-mini',
        'gen_ai.request.max_tokens': 64,
        'gen_ai.response.model': expect.stringMatching(/^gpt-4o-mini/),
        'gen_ai.usage.input_tokens': job.result.usage.prompt_tokens,
        'gen_ai.usage.output_tokens': job.result.usage.completion_tokens,
        'gen_ai.response.finish_reasons': [job.result.finish_reason],
        'server.address': '127.0.0.1',
        'server.port': Number(new URL(simulatorUrl).port),
      });
      expect(delivery).toMatchObject({ service: 'spool-worker', kind: SPAN_KIND.client, parentSpanId: submission.spanId });
      expect(delivery.attributes).toMatchObject({ 'spool.job.id': jobId, 'http.response.status_code': 200, 'spool.webhook.attempt': 1, 'server.address': '127.0.0.1' });

      // The job's record carries the trace context that joined the two processes.
      const redis = new Redis(REDIS_URL);
      const traceparent = await redis.hget(createKeys(prefix).job(jobId), 'traceparent');
      await redis.quit();
      expect(traceparent).toBe(`00-${submission.traceId}-${submission.spanId}-01`);

      expect(logLine(worker, 'job succeeded', jobId)).toMatchObject({ trace_id: submission.traceId });
      expect(logLine(apiChild, 'request completed', jobId)).toMatchObject({ trace_id: submission.traceId });
    }, 60_000);

    it("honours a caller's traceparent: the submission is its child, and the job's spans join the caller's trace", async () => {
      const callerTrace = randomBytes(16).toString('hex');
      const callerSpan = randomBytes(8).toString('hex');
      const answer = await postJson(`${api}/v1/chat/completions`, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] }, { traceparent: `00-${callerTrace}-${callerSpan}-01` });
      expect(answer.status).toBe(200);
      const jobId = answer.headers.get('x-spool-job-id')!;

      const spans = await traceWith(() => callerTrace, ['POST /v1/chat/completions', 'queue wait', 'attempt', 'chat gpt-4o-mini']);
      const submission = spans.find((span) => span.name === 'POST /v1/chat/completions')!;
      expect(submission).toMatchObject({ parentSpanId: callerSpan, attributes: { 'spool.job.id': jobId, 'http.response.status_code': 200 } });
      expect(spans.find((span) => span.name === 'attempt')).toMatchObject({ parentSpanId: submission.spanId, attributes: { 'spool.job.id': jobId } });
    }, 60_000);

    it("puts a batch's jobs in the batch submission's trace: one span for the submission, one attempt per job", async () => {
      const requests = ['one', 'two'].map((content) => ({ custom_id: content, body: { messages: [{ role: 'user', content }] } }));
      const submitted = await postJson(`${api}/v1/batches`, { requests });
      expect(submitted.status).toBe(202);
      const batchId = submitted.body.id as string;

      const submissionOf = () => spansIn(receiver.at('/v1/traces')).find((span) => span.name === 'POST /v1/batches' && span.attributes['spool.batch.id'] === batchId);
      const attempts = await vi.waitFor(
        () => {
          const submission = submissionOf();
          const found = spansIn(receiver.at('/v1/traces')).filter((span) => span.name === 'attempt' && submission && span.parentSpanId === submission.spanId);
          if (found.length < 2) throw new Error(`${found.length} of 2 attempts of ${batchId} exported`);
          return found;
        },
        { timeout: 20_000, interval: 50 },
      );
      expect(new Set(attempts.map((span) => span.attributes['spool.job.id'])).size).toBe(2);
      expect(attempts.every((span) => span.traceId === submissionOf()!.traceId)).toBe(true);
    }, 60_000);

    it('records a failed upstream call as an error on its GenAI span', async () => {
      const submitted = await postJson(`${api}/v1/jobs`, { messages: [{ role: 'user', content: '[[sim status=400]] refuse me' }] });
      const jobId = submitted.body.id as string;
      expect((await finished(api, jobId)).status).toBe('failed');
      const submissionOf = () => spansIn(receiver.at('/v1/traces')).find((span) => span.name === 'POST /v1/jobs' && span.attributes['spool.job.id'] === jobId);
      const spans = await traceWith(() => submissionOf()?.traceId, ['attempt', 'chat gpt-4o-mini']);
      const call = spans.find((span) => span.name === 'chat gpt-4o-mini')!;
      expect(call.statusCode).toBe(STATUS_ERROR);
      expect(call.attributes['error.type']).toEqual(expect.any(String));
    }, 60_000);
  });

  it("exports on SIGTERM the submission spans the API still held (the SDK's batch delay, 5 s, not yet up), and makes an invalid traceparent's submission a root", async () => {
    receiver.on('/stop/v1/traces');
    const prefix = `test-${randomUUID().slice(0, 12)}`;
    prefixes.push(prefix);
    const { child, url } = await startApiProcess({ REDIS_URL, SPOOL_PREFIX: prefix, OTEL_EXPORTER_OTLP_ENDPOINT: `${receiver.url}/stop`, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
    children.push(child);
    const zeroTrace = `00-${'0'.repeat(32)}-${randomBytes(8).toString('hex')}-01`;
    const submitted = await postJson(`${url}/v1/jobs`, { messages: [{ role: 'user', content: 'held' }] }, { traceparent: zeroTrace });
    expect(submitted.status).toBe(202);

    expect(await child.stop('SIGTERM')).toBe(0);
    const [submission] = spansIn(receiver.at('/stop/v1/traces')).filter((span) => span.attributes['spool.job.id'] === submitted.body.id);
    expect(submission).toMatchObject({ service: 'spool-api', name: 'POST /v1/jobs', parentSpanId: undefined });
    expect(submission.traceId).toMatch(/^(?!0{32})[0-9a-f]{32}$/);
  }, 60_000);

  it('sends nothing and writes no trace context or trace_id when OTEL_EXPORTER_OTLP_ENDPOINT is unset', async () => {
    // The SDK would honour the signal-specific variable; Spool starts no SDK without the endpoint.
    const { api, apiChild, worker, prefix } = await startPair({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/off/v1/traces`, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '100' });
    const submitted = await postJson(`${api}/v1/jobs`, { messages: [{ role: 'user', content: 'untraced' }], webhook: { url: `${receiver.url}/hook-off` } }, { traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01` });
    const jobId = submitted.body.id as string;
    expect((await finished(api, jobId)).status).toBe('succeeded');
    await receiver.waitFor('/hook-off');
    await vi.waitFor(() => expect(logLine(apiChild, 'request completed', jobId)).toBeDefined());

    const redis = new Redis(REDIS_URL);
    const fields = await redis.hgetall(createKeys(prefix).job(jobId));
    await redis.quit();
    expect(fields.status).toBe('succeeded');
    expect(fields).not.toHaveProperty('traceparent');
    expect(fields).not.toHaveProperty('queued_at_ms');

    // A graceful stop flushes whatever an SDK would have buffered.
    expect(await Promise.all([apiChild.stop('SIGTERM'), worker.stop('SIGTERM')])).toEqual([0, 0]);
    expect(receiver.at('/off/v1/traces')).toHaveLength(0);
    const lines = [...apiChild.output, ...worker.output].filter((line) => line.startsWith('{'));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter((line) => line.includes('trace_id'))).toEqual([]);
    expect(logLine(worker, 'job succeeded', jobId)).toBeDefined();
  }, 60_000);
});
