import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulateReply } from '@spool/simulator';
import { startStack, type Stack } from '../support/stack.js';
import { getJson, joinDeltas, postJson, readEvents } from '../support/http.js';
import { PrivateRedis } from '../support/redis-server.js';

describe('Redis restarts mid-stream', () => {
  let redis: PrivateRedis;
  let stack: Stack;
  beforeAll(async () => {
    redis = await PrivateRedis.start();
    stack = await startStack({ simulator: { tokensPerSecond: 40 }, env: { REDIS_URL: redis.url, SPOOL_LOCK_MS: '2000', WORKER_CONCURRENCY: '20' } });
  });
  afterAll(async () => {
    await stack?.close().catch(() => undefined);
    await redis?.stop();
  });

  it('ends every accepted job exactly once, and every watcher sees the whole text once', async () => {
    const prompts = Array.from({ length: 8 }, (_, i) => `[[sim tokens=80]] through a restart ${i}`);
    const jobs = await Promise.all(prompts.map(async (content) => (await postJson(`${stack.url}/v1/jobs`, { messages: [{ role: 'user', content }] })).body));
    const watchers = jobs.map((job) => readEvents(`${stack.url}${job.stream_url}`));
    // Some text has streamed for every job: then Redis dies and comes back with its AOF.
    await Promise.all(jobs.map((job) => readEvents(`${stack.url}${job.stream_url}`, { limit: 5 })));
    await redis.kill('SIGKILL');
    const down = await postJson(`${stack.url}/v1/jobs`, { messages: [{ role: 'user', content: 'while down' }] });
    expect(down.status).toBe(503);
    expect(down.body.error.type).toBe('api_error');
    expect((await getJson(`${stack.url}/readyz`)).status).toBe(503);
    await redis.resume();

    const streams = await Promise.all(watchers);
    for (let i = 0; i < jobs.length; i++) {
      const events = streams[i];
      expect(events.map((event) => event.id)).toEqual(events.map((_, index) => index + 1));
      const done = events.filter((event) => event.event === 'done');
      expect(done).toHaveLength(1);
      const finished = JSON.parse(done[0].data);
      expect(finished.status).toBe('succeeded');
      const expected = simulateReply({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: prompts[i] }] }).content;
      expect(joinDeltas(events)).toBe(expected);
      expect(finished.result.content).toBe(expected);
      const fetched = await getJson(`${stack.url}/v1/jobs/${jobs[i].id}`);
      expect(fetched.body.status).toBe('succeeded');
    }
    expect((await getJson(`${stack.url}/readyz`)).status).toBe(200);
  }, 90_000);
});
