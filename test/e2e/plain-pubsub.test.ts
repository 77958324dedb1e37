import { describe, expect, it, vi } from 'vitest';
import { Redis } from 'ioredis';
import { createKeys } from '@spool/queue';
import { SpoolWorker } from '@spool/worker';
import { messageIds, spyOnChannel } from '../support/channel-spies.js';
import { joinDeltas, postJson, readEvents } from '../support/http.js';
import { REDIS_URL, silentLogger, useStack } from '../support/stack.js';

// Only in the `redis` project: the cluster's counterpart is test/cluster/sharded-pubsub.test.ts.
describe('on a single Redis, a job event stream', () => {
  const stack = useStack({ workers: 0, simulator: { tokensPerSecond: 200 } });

  it("goes by plain pub/sub: PUBLISH from the job's scripts, the API's SUBSCRIBE, no SPUBLISH", async () => {
    expect(stack.api.deps.redis).toBeInstanceOf(Redis);
    const job = (await postJson(`${stack.url}/v1/jobs`, { messages: [{ role: 'user', content: '[[sim tokens=10]] plain' }] })).body;
    const channel = createKeys(stack.config.prefix).eventsChannel(job.id);
    const { hostname, port } = new URL(REDIS_URL);
    const spies = await spyOnChannel(hostname, Number(port || 6379), channel);
    try {
      const watching = readEvents(`${stack.url}${job.stream_url}`);
      await vi.waitFor(() => expect(stack.api.deps.hub.watcherCount).toBe(1), { interval: 20 });
      expect(await spies.subscribers()).toEqual({ plain: 2, sharded: 1 }); // the API's SUBSCRIBE, and the spies

      stack.workers.push(new SpoolWorker({ config: stack.config, logger: silentLogger }));
      const events = await watching;
      const done = events.at(-1)!;
      expect(done.event).toBe('done');
      expect(joinDeltas(events)).toBe(JSON.parse(done.data).result.content);

      await spies.settled();
      expect(spies.sharded).toEqual([]);
      expect(messageIds(spies.plain)).toEqual(events.slice(1).map((event) => event.id)); // all but `queued`, sent before the spies
    } finally {
      spies.close();
    }
  });
});
