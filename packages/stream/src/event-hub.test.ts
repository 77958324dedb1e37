import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { JobEvent } from '@spool/contracts';
import { createKeys, createRedis, waitForRedis, type Redis, type RedisClient } from '@spool/queue';
import { PrivateRedis, readsDuring } from '../../../test/support/redis-server.js';
import { EventHub } from './event-hub.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('EventHub', () => {
  const keys = createKeys(`test-${randomUUID().slice(0, 12)}`);
  const jobs = ['job_a', 'job_b', 'job_c'];
  let redis: RedisClient;
  // Pub/sub has a server of its own: it counts the reads it makes, and the log's reads (on the
  // shared Redis) do not count.
  let pubsubServer: PrivateRedis;
  let subscriber: Redis;
  let publisher: Redis;
  let hub: EventHub;

  beforeAll(async () => {
    pubsubServer = await PrivateRedis.start();
    redis = createRedis(REDIS_URL, 'command', keys.prefix);
    subscriber = createRedis(pubsubServer.url, 'subscriber', keys.prefix) as Redis;
    publisher = createRedis(pubsubServer.url, 'command', keys.prefix) as Redis;
    await Promise.all([waitForRedis(redis, REDIS_URL), waitForRedis(publisher, pubsubServer.url)]);
    hub = new EventHub(redis, subscriber, keys);
    for (const job of jobs) await redis.rpush(keys.events(job), 'status\n{"status":"queued","attempt":1}');
  });
  afterAll(async () => {
    await redis.unlink(...jobs.map((job) => keys.events(job)));
    subscriber.disconnect();
    await Promise.all([redis.quit(), publisher.quit()]);
    await pubsubServer?.stop();
  });

  it('subscribes the watchers of one turn in one write, and unsubscribes them in one', async () => {
    await subscriber.ping();
    const seen = new Map<string, JobEvent[]>(jobs.map((job) => [job, []]));
    let stops: (() => void)[] = [];
    const subscribing = await readsDuring(publisher, async () => {
      stops = await Promise.all(jobs.map((job) => hub.watch(job, 0, (event) => seen.get(job)?.push(event))));
    });
    expect(subscribing).toBe(1);

    for (const job of jobs) expect(seen.get(job)).toEqual([{ id: 1, event: 'status', data: '{"status":"queued","attempt":1}' }]);
    await publisher.publish(keys.eventsChannel('job_b'), '2\ndelta\n{"content":"hi"}');
    await vi.waitFor(() => expect(seen.get('job_b')).toHaveLength(2));

    const unsubscribe = vi.spyOn(subscriber, 'unsubscribe');
    const unsubscribing = await readsDuring(publisher, async () => {
      for (const stop of stops) stop();
      expect(hub.watcherCount).toBe(0);
      await Promise.all(unsubscribe.mock.results.map((result) => result.value));
    });
    unsubscribe.mockRestore();
    expect(unsubscribing).toBe(1);
    expect(await publisher.pubsub('NUMSUB', ...jobs.map((job) => keys.eventsChannel(job)))).toEqual(jobs.flatMap((job) => [keys.eventsChannel(job), 0]));
  });

  it('gives a watcher at or past the done that done once, and a watcher that had it no second one', async () => {
    const job = 'job_ended';
    const done = 'done\n{"status":"succeeded"}';
    await redis.rpush(keys.events(job), 'status\n{"status":"queued","attempt":1}', done);
    try {
      const seen = { atDone: [] as JobEvent[], past: [] as JobEvent[], fromStart: [] as JobEvent[] };
      const stops = [
        await hub.watch(job, 2, (event) => seen.atDone.push(event)),
        await hub.watch(job, 999, (event) => seen.past.push(event)),
        await hub.watch(job, 0, (event) => seen.fromStart.push(event)),
      ];
      const doneEvent = { id: 2, event: 'done', data: '{"status":"succeeded"}' };
      // the same done again over pub/sub, as when it was published while the watchers read the log
      await publisher.publish(keys.eventsChannel(job), `2\n${done}`);
      await subscriber.ping(); // answered after the message, so the message has been handled
      expect(seen.atDone).toEqual([doneEvent]);
      expect(seen.past).toEqual([doneEvent]);
      expect(seen.fromStart.map((event) => event.id)).toEqual([1, 2]);
      for (const stop of stops) stop();
    } finally {
      await redis.unlink(keys.events(job));
    }
  });
});
