import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulateReply } from '@spool/simulator';
import { ApiServer } from '@spool/api';
import { silentLogger, startStack, type Stack } from '../support/stack.js';
import { getJson, readEvents } from '../support/http.js';

const user = (content: string) => [{ role: 'user' as const, content }];

describe('the OpenAI-compatible door, driven by the openai SDK', () => {
  let stack: Stack;
  let client: OpenAI;
  beforeAll(async () => {
    stack = await startStack({ simulator: { tokensPerSecond: 1000 }, env: { SPOOL_MAX_ATTEMPTS: '2', SPOOL_BACKOFF_MS: '20' } });
    client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: 'unused-in-open-mode', maxRetries: 0 });
  });
  afterAll(async () => stack?.close());

  it('answers chat.completions.create with a chat.completion and the job id header', async () => {
    const { data, response } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: user('door please') }).withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.choices[0].message.role).toBe('assistant');
    expect(data.choices[0].message.content).toBe(simulateReply({ model: 'gpt-4o-mini', messages: user('door please') }).content);
    expect(data.choices[0].finish_reason).toBe('stop');
    expect(data.usage?.total_tokens).toBeGreaterThan(0);
    const jobId = response.headers.get('x-spool-job-id');
    expect(jobId).toMatch(/^job_/);
    const job = await getJson(`${stack.url}/v1/jobs/${jobId}`);
    expect(job.body.status).toBe('succeeded');
    expect(job.body.result.content).toBe(data.choices[0].message.content);
  });

  it('streams chat.completion.chunk events ending in [DONE], with usage when asked', async () => {
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: user('[[sim tokens=25]] stream door'), stream: true, stream_options: { include_usage: true } });
    let text = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    let chunks = 0;
    for await (const part of stream) {
      chunks++;
      expect(part.object).toBe('chat.completion.chunk');
      if (part.usage) usage = part.usage;
      const choice = part.choices[0];
      if (!choice) continue;
      text += choice.delta.content ?? '';
      if (choice.finish_reason) finish = choice.finish_reason;
    }
    expect(chunks).toBeGreaterThan(2);
    expect(text).toBe(simulateReply({ model: 'gpt-4o-mini', messages: user('[[sim tokens=25]] stream door') }).content);
    expect(finish).toBe('stop');
    expect(usage?.completion_tokens).toBeGreaterThan(0);
  });

  it('cancels the job of a stream its client leaves, and leaves a stream read to its end as it ended', async () => {
    const controller = new AbortController();
    const { data: left, response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: user('[[sim tokens=400]] leave me'), stream: true }, { signal: controller.signal })
      .withResponse();
    for await (const part of left) if (part.choices[0]?.delta.content) break; // leaving the loop aborts the request
    controller.abort();
    const leftId = response.headers.get('x-spool-job-id');
    await expect.poll(async () => (await getJson(`${stack.url}/v1/jobs/${leftId}`)).body.status, { timeout: 5000 }).toBe('cancelled');
    const { data: read, response: readResponse } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: user('[[sim tokens=5]] read me'), stream: true }).withResponse();
    for await (const part of read) void part;
    const job = await getJson(`${stack.url}/v1/jobs/${readResponse.headers.get('x-spool-job-id')}`);
    expect(job.body).toMatchObject({ status: 'succeeded', error: null });
  });

  it('surfaces upstream errors as the SDK error classes with the upstream status', async () => {
    await expect(client.chat.completions.create({ model: 'gpt-4o-mini', messages: user('[[sim status=400]] bad') })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(client.chat.completions.create({ model: 'gpt-4o-mini', messages: user('[[sim status=429 code=insufficient_quota]] broke') })).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    await expect(client.chat.completions.create({ model: 'gpt-4o-mini', messages: user('[[sim status=500]] down') })).rejects.toBeInstanceOf(OpenAI.InternalServerError);
    const streaming = client.chat.completions.create({ model: 'gpt-4o-mini', messages: user('[[sim status=400]] bad stream'), stream: true });
    await expect(streaming).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });

  it('rejects a bad request with the SDK BadRequestError naming the param', async () => {
    const error = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [], temperature: 5 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.APIError>).param).toBe('messages');
  });

  it('lists models', async () => {
    const page = await client.models.list();
    expect(page.data.map((model) => model.id)).toContain('gpt-4o-mini');
  });
});

describe('the door after its longest wait', () => {
  let stack: Stack;
  let door: ApiServer;
  let client: OpenAI;
  beforeAll(async () => {
    stack = await startStack();
    door = new ApiServer({ config: stack.config, logger: silentLogger, store: stack.store, doorWaitMs: 1000 });
    // The SDK's default retries: a 504 it retried would submit the job again.
    client = new OpenAI({ baseURL: `${await door.listen(0, '127.0.0.1')}/v1`, apiKey: 'unused-in-open-mode', maxRetries: 2 });
  });
  afterAll(async () => {
    await door?.close();
    await stack?.close();
  });

  /** The job ends on its own (after the door gave up on it) and succeeds. */
  const expectItGoesOn = async (jobId: string | null) => {
    expect(jobId).toMatch(/^job_/);
    const events = await readEvents(`${stack.url}/v1/jobs/${jobId}/events`);
    expect(JSON.parse(events.at(-1)!.data).status).toBe('succeeded');
  };
  const timedOut = { code: 'job_wait_timeout', message: expect.stringContaining('/v1/jobs/job_') };

  it('answers 504 job_wait_timeout (not retried) with the job id, streaming or not, and the job goes on', async () => {
    const [plain, stream] = await Promise.all(
      [false, true].map((streaming) =>
        client.chat.completions
          .create({ model: 'gpt-4o-mini', messages: user(`[[sim stall=0 stall_ms=2500]] slow ${streaming}`), stream: streaming })
          .then(() => expect.unreachable(), (error: unknown) => error as InstanceType<typeof OpenAI.APIError>),
      ),
    );
    for (const error of [plain, stream]) {
      expect(error).toBeInstanceOf(OpenAI.InternalServerError);
      expect(error).toMatchObject({ status: 504, ...timedOut });
    }
    const listed = await getJson(`${stack.url}/v1/jobs?limit=100`);
    expect(listed.body.data).toHaveLength(2);
    await expectItGoesOn(plain.headers?.get('x-spool-job-id') ?? null);
    await expectItGoesOn(stream.headers?.get('x-spool-job-id') ?? null);
  });

  it('ends a stream that has begun with the error in it', async () => {
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: user('[[sim tokens=10 stall=3 stall_ms=2500]] half'), stream: true })
      .withResponse();
    let text = '';
    const error = await (async () => {
      for await (const part of stream) text += part.choices[0]?.delta.content ?? '';
    })().then(() => expect.unreachable(), (caught: unknown) => caught);
    expect(text).not.toBe('');
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error).toMatchObject(timedOut);
    await expectItGoesOn(response.headers.get('x-spool-job-id'));
  });
});
