import { EventEmitter } from 'node:events';
import OpenAI, { toFile } from 'openai';
import { describe, expect, it } from 'vitest';
import { BatchStore } from './batches.js';
import { FileStore } from './files.js';
import { startSimulator, type Started } from './test-support.js';

const model = 'gpt-4o-mini';
const ENDED = new Set(['completed', 'failed', 'expired', 'cancelled']);

interface Line {
  custom_id: string;
  method?: string;
  url?: string;
  body: unknown;
}

const line = (customId: string, content: string, extra: Record<string, unknown> = {}): Line => ({
  custom_id: customId,
  method: 'POST',
  url: '/v1/chat/completions',
  body: { model, messages: [{ role: 'user', content }], ...extra },
});

async function upload(client: OpenAI, lines: (Line | string)[]): Promise<OpenAI.FileObject> {
  const text = lines.map((entry) => (typeof entry === 'string' ? entry : JSON.stringify(entry))).join('\n');
  return client.files.create({ file: await toFile(Buffer.from(text), 'input.jsonl'), purpose: 'batch' });
}

async function submit({ client }: Started, lines: (Line | string)[]): Promise<OpenAI.Batch> {
  const file = await upload(client, lines);
  return client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
}

/** The batch once `done` holds for it, waiting on the simulator's `batch` events (no polling loop). */
async function until({ client, simulator }: Started, id: string, done: (batch: OpenAI.Batch) => boolean = (batch) => ENDED.has(batch.status)): Promise<OpenAI.Batch> {
  for (;;) {
    const changed = new Promise<void>((resolve) => {
      const listener = (event: { id: string }) => {
        if (event.id !== id) return;
        simulator.events.off('batch', listener);
        resolve();
      };
      simulator.events.on('batch', listener);
    });
    const batch = await client.batches.retrieve(id);
    if (done(batch)) return batch;
    await changed;
  }
}

async function fileLines(client: OpenAI, id: string | null | undefined): Promise<any[]> {
  if (!id) return [];
  const text = await (await client.files.content(id)).text();
  return text.trimEnd().split('\n').map((entry) => JSON.parse(entry));
}

describe('simulator: files', () => {
  it('keeps an uploaded batch file: its object and its bytes', async () => {
    const { client } = await startSimulator();
    const text = `${JSON.stringify(line('a', 'hello'))}\n`;
    const file = await client.files.create({ file: await toFile(Buffer.from(text), 'in.jsonl'), purpose: 'batch' });
    expect(file).toMatchObject({ id: expect.stringMatching(/^file-/), object: 'file', bytes: Buffer.byteLength(text), filename: 'in.jsonl', purpose: 'batch', status: 'processed' });
    expect(await client.files.retrieve(file.id)).toEqual(file);
    expect(await (await client.files.content(file.id)).text()).toBe(text);
    expect(await client.files.delete(file.id)).toEqual({ id: file.id, object: 'file', deleted: true });
    await expect(client.files.retrieve(file.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('refuses another purpose, a missing file part and a body that is not multipart', async () => {
    const { client, baseURL } = await startSimulator();
    const wrong = await client.files.create({ file: await toFile(Buffer.from('x'), 'x.jsonl'), purpose: 'fine-tune' }).catch((error) => error);
    expect(wrong).toBeInstanceOf(OpenAI.BadRequestError);
    expect(wrong.param).toBe('purpose');
    const form = new FormData();
    form.append('purpose', 'batch');
    const missing = await fetch(`${baseURL}/files`, { method: 'POST', body: form });
    expect(missing.status).toBe(400);
    expect((await missing.json()).error.param).toBe('file');
    const json = await fetch(`${baseURL}/files`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(json.status).toBe(400);
  });

  it('forgets the oldest files past its bounds', () => {
    const files = new FileStore({ maxFiles: 2, maxBytes: 10 });
    const first = files.add('1', 'batch', Buffer.from('1234'));
    const second = files.add('2', 'batch', Buffer.from('1234'));
    const third = files.add('3', 'batch', Buffer.from('1234'));
    expect([first, second, third].map((file) => files.get(file.id) !== undefined)).toEqual([false, true, true]);
    const big = files.add('4', 'batch', Buffer.from('123456789'));
    expect([second, third, big].map((file) => files.get(file.id) !== undefined)).toEqual([false, false, true]);
  });
});

describe('simulator: batches', () => {
  it('runs a batch after its delay and answers each line as the live request would be answered', async () => {
    const started = await startSimulator({ batchDelayMs: 200 });
    const { client, simulator } = started;
    const lines = Array.from({ length: 20 }, (_, index) => line(`req-${index}`, `question ${index}`, index === 3 ? { max_tokens: 4 } : {}));
    const seen: string[] = [];
    simulator.events.on('batch', (event: { status: string }) => seen.push(event.status));
    const created = await submit(started, lines);
    expect(created).toMatchObject({
      id: expect.stringMatching(/^batch_/),
      object: 'batch',
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      status: 'validating',
      output_file_id: null,
      error_file_id: null,
      errors: null,
    });
    expect((await until(started, created.id, (batch) => batch.status !== 'validating')).status).toBe('in_progress');

    const batch = await until(started, created.id);
    expect(batch).toMatchObject({ status: 'completed', request_counts: { total: 20, completed: 20, failed: 0 }, error_file_id: null });
    expect(batch.completed_at).toBeGreaterThanOrEqual(batch.created_at);
    expect(seen).toEqual(['in_progress', 'finalizing', 'completed']);
    expect(simulator.stats.requests).toBe(0); // no live call behind a batch

    const output = await fileLines(client, batch.output_file_id);
    expect(output.map((entry) => entry.custom_id).sort()).toEqual(lines.map((entry) => entry.custom_id).sort());
    for (const entry of output) {
      const request = lines.find((candidate) => candidate.custom_id === entry.custom_id)!;
      const live = await client.chat.completions.create(request.body as OpenAI.ChatCompletionCreateParamsNonStreaming);
      expect(entry).toMatchObject({ id: expect.stringMatching(/^batch_req_/), error: null, response: { status_code: 200, request_id: expect.stringMatching(/^req_/) } });
      expect(entry.response.body).toMatchObject({ object: 'chat.completion', model, choices: [{ message: { content: live.choices[0].message.content }, finish_reason: live.choices[0].finish_reason }], usage: live.usage });
    }
    expect(output.find((entry) => entry.custom_id === 'req-3').response.body.choices[0].finish_reason).toBe('length');
  });

  it('puts lines that fail (a status directive, a bad body) in the error file, counting times= like live requests', async () => {
    const started = await startSimulator({ batchDelayMs: 0 });
    const { client } = started;
    const lines = [
      line('ok', 'fine'),
      line('server', '[[sim status=500 times=1]] once'),
      line('limited', '[[sim status=429]] limited'),
      line('bad', '[[sim status=400]] bad'),
      { custom_id: 'no-messages', method: 'POST', url: '/v1/chat/completions', body: { model } },
    ];
    const batch = await until(started, (await submit(started, lines)).id);
    expect(batch).toMatchObject({ status: 'completed', request_counts: { total: 5, completed: 1, failed: 4 } });
    expect((await fileLines(client, batch.output_file_id)).map((entry) => entry.custom_id)).toEqual(['ok']);
    const errors = new Map((await fileLines(client, batch.error_file_id)).map((entry) => [entry.custom_id, entry.response]));
    expect(errors.get('server')).toMatchObject({ status_code: 500, body: { error: { type: 'server_error' } } });
    expect(errors.get('limited')).toMatchObject({ status_code: 429, body: { error: { code: 'rate_limit_exceeded' } } });
    expect(errors.get('bad')).toMatchObject({ status_code: 400, body: { error: { type: 'invalid_request_error' } } });
    expect(errors.get('no-messages')).toMatchObject({ status_code: 400, body: { error: { param: 'messages' } } });
    // The one 500 the directive allowed went to the batch: the same request live now succeeds.
    const live = await client.chat.completions.create(lines[1].body as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(live.choices[0].finish_reason).toBe('stop');
  });

  it('fails a batch asked to fail, and expires one asked to expire with every request in the error file', async () => {
    const started = await startSimulator({ batchDelayMs: 50 });
    const { client } = started;
    const failed = await until(started, (await submit(started, [line('a', 'x'), line('b', '[[sim batch=failed]] y')])).id);
    expect(failed).toMatchObject({ status: 'failed', errors: { object: 'list', data: [{ code: 'simulated_failure' }] }, output_file_id: null });
    expect(failed.failed_at).toBeGreaterThan(0);

    const expired = await until(started, (await submit(started, [line('a', '[[sim batch=expired]] x'), line('b', 'y')])).id);
    expect(expired).toMatchObject({ status: 'expired', output_file_id: null, request_counts: { total: 2, completed: 0, failed: 2 } });
    expect(expired.expired_at).toBeGreaterThan(0);
    const errors = await fileLines(client, expired.error_file_id);
    expect(errors).toEqual([
      { id: expect.any(String), custom_id: 'a', response: null, error: { code: 'batch_expired', message: expect.any(String) } },
      { id: expect.any(String), custom_id: 'b', response: null, error: { code: 'batch_expired', message: expect.any(String) } },
    ]);
  });

  it('cancels a running batch (cancelling, then cancelled, nothing answered); an ended one cannot be cancelled', async () => {
    const started = await startSimulator({ batchDelayMs: 60_000 });
    const { client } = started;
    const created = await submit(started, [line('a', 'x')]);
    await until(started, created.id, (batch) => batch.status === 'in_progress');
    const cancelling = await client.batches.cancel(created.id);
    expect(cancelling.status).toBe('cancelling');
    expect(cancelling.cancelling_at).toBeGreaterThan(0);
    const cancelled = await until(started, created.id);
    expect(cancelled).toMatchObject({ status: 'cancelled', output_file_id: null, error_file_id: null });
    expect((await client.batches.cancel(created.id)).status).toBe('cancelled');

    const quick = await startSimulator({ batchDelayMs: 0 });
    const done = await until(quick, (await submit(quick, [line('a', 'x')])).id);
    const refused = await quick.client.batches.cancel(done.id).catch((error) => error);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
  });

  it('fails a batch whose input file has bad lines, naming them', async () => {
    const started = await startSimulator({ batchDelayMs: 0 });
    const batch = await until(
      started,
      (await submit(started, [line('a', 'x'), 'not json', line('a', 'again'), { ...line('c', 'x'), url: '/v1/embeddings' }, { custom_id: 'd', method: 'POST', url: '/v1/chat/completions', body: 'text' }])).id,
    );
    expect(batch.status).toBe('failed');
    expect(batch.errors?.data?.map((error) => [error.code, error.line])).toEqual([
      ['invalid_json_line', 2],
      ['duplicate_custom_id', 3],
      ['mismatched_endpoint', 4],
      ['missing_required_parameter', 5],
    ]);
    const empty = await until(started, (await submit(started, [''])).id);
    expect(empty.errors?.data?.[0].code).toBe('empty_file');
  });

  it('refuses bad create parameters with 400 naming the field, and unknown ids with 404', async () => {
    const started = await startSimulator();
    const { client } = started;
    const file = await upload(client, [line('a', 'x')]);
    const attempt = (params: Record<string, unknown>) => client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', ...params } as never).catch((error) => error);
    expect((await attempt({ completion_window: '1h' })).param).toBe('completion_window');
    expect((await attempt({ endpoint: '/v1/embeddings' })).param).toBe('endpoint');
    expect((await attempt({ input_file_id: 'file-missing' })).param).toBe('input_file_id');
    expect((await attempt({ metadata: { key: 5 } })).param).toBe('metadata');
    await expect(client.batches.retrieve('batch_missing')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.batches.cancel('batch_missing')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('lists batches newest first, a page at a time, with their metadata', async () => {
    const started = await startSimulator({ batchDelayMs: 60_000 });
    const { client } = started;
    const file = await upload(client, [line('a', 'x')]);
    const ids: string[] = [];
    for (let index = 0; index < 3; index++) {
      ids.push((await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { n: String(index) } })).id);
    }
    const first = await client.batches.list({ limit: 2 });
    expect(first.data.map((batch) => batch.id)).toEqual([ids[2], ids[1]]);
    expect(first.data[0].metadata).toEqual({ n: '2' });
    expect(first.has_more).toBe(true);
    const all: string[] = [];
    for await (const batch of client.batches.list({ limit: 2 })) all.push(batch.id);
    expect(all).toEqual([...ids].reverse());
  });

  it('keeps a bounded number of batches: the oldest ended ones go, and with none ended a create is a 429', async () => {
    const files = new FileStore();
    const input = files.add('in.jsonl', 'batch', Buffer.from(`${JSON.stringify(line('a', 'x'))}\n`));
    const events = new EventEmitter();
    const store = new BatchStore({ files, delayMs: 60_000, maxBatches: 2, countFault: () => true, events });
    const reaches = (id: string, status: string) =>
      new Promise<void>((resolve) => events.on('batch', (event: { id: string; status: string }) => event.id === id && event.status === status && resolve()));
    const params = { input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' };
    try {
      const first = store.create(params).body as { id: string };
      store.create(params);
      expect(store.create(params).status).toBe(429);
      await reaches(first.id, 'in_progress');
      const cancelled = reaches(first.id, 'cancelled');
      store.cancel(first.id);
      await cancelled;
      expect(store.create(params).status).toBe(200);
      expect(store.get(first.id).status).toBe(404);
    } finally {
      store.close();
    }
  });
});
