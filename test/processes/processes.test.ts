import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulateReply } from '@spool/simulator';
import { deletePrefix, REDIS_URL } from '../support/stack.js';
import { joinDeltas, postJson, readEvents } from '../support/http.js';
import { startApiProcess, startSimulatorProcess, startWorkerProcess, type Child } from '../support/processes.js';

describe('real processes', () => {
  const prefix = `test-${randomUUID().slice(0, 12)}`;
  const children: Child[] = [];
  let env: Record<string, string>;
  let apiA: string;
  let apiB: string;

  beforeAll(async () => {
    const simulator = await startSimulatorProcess({ SIMULATOR_TTFT_MS: '0', SIMULATOR_TOKENS_PER_SECOND: '100' });
    children.push(simulator.child);
    env = { REDIS_URL, SPOOL_PREFIX: prefix, OPENAI_BASE_URL: simulator.url, SPOOL_LOCK_MS: '1500', SPOOL_BACKOFF_MS: '50', SPOOL_CLIENT_RPM: '1000000' };
    const [a, b] = await Promise.all([startApiProcess(env), startApiProcess(env)]);
    children.push(a.child, b.child);
    apiA = a.url;
    apiB = b.url;
  });

  afterAll(async () => {
    await Promise.all(children.map((child) => child.stop('SIGTERM')));
    await deletePrefix(prefix);
  });

  it('serves one job from any API process: a stream cut on one resumes on the other with nothing lost or doubled', async () => {
    const worker = await startWorkerProcess(env);
    children.push(worker);
    const content = '[[sim tokens=60]] two apis';
    const job = (await postJson(`${apiA}/v1/jobs`, { messages: [{ role: 'user', content }] })).body;
    const first = await readEvents(`${apiA}${job.stream_url}`, { limit: 5 });
    const rest = await readEvents(`${apiB}${job.stream_url}`, { headers: { 'Last-Event-ID': String(first.at(-1)!.id) } });
    const all = [...first, ...rest];
    expect(all.map((event) => event.id)).toEqual(all.map((_, index) => index + 1));
    expect(all.at(-1)!.event).toBe('done');
    const expected = simulateReply({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] }).content;
    expect(joinDeltas(all)).toBe(expected);
    expect(JSON.parse(all.at(-1)!.data).result.content).toBe(expected);
    await worker.stop('SIGTERM');
  });

  it('finishes a job exactly once when its worker is killed with SIGKILL mid-stream', async () => {
    const doomed = await startWorkerProcess(env);
    children.push(doomed);
    const content = '[[sim tokens=150 tps=50]] survive a crash';
    const job = (await postJson(`${apiA}/v1/jobs`, { messages: [{ role: 'user', content }] })).body;
    // Kill the worker once some text has streamed.
    const early = await readEvents(`${apiA}${job.stream_url}`, { limit: 6 });
    expect(early.filter((event) => event.event === 'delta').length).toBeGreaterThan(0);
    await doomed.stop('SIGKILL');

    const survivor = await startWorkerProcess(env);
    children.push(survivor);
    const events = await readEvents(`${apiB}${job.stream_url}`);
    const done = events.filter((event) => event.event === 'done');
    expect(done).toHaveLength(1);
    const finished = JSON.parse(done[0].data);
    expect(finished.status).toBe('succeeded');
    expect(finished.attempts).toBe(2);
    const running = events.filter((event) => event.event === 'status' && event.data.includes('running'));
    expect(running.map((event) => JSON.parse(event.data).attempt)).toEqual([1, 2]);
    // Text is only appended: the continuation picks up exactly where the dead worker stopped.
    const expected = simulateReply({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] }).content;
    expect(joinDeltas(events)).toBe(expected);
    expect(finished.result.content).toBe(expected);
    await survivor.stop('SIGTERM');
  });
});
