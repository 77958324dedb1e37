import calculateSlot from 'cluster-key-slot';
import { describe, expect, it, vi } from 'vitest';
import { Cluster } from 'ioredis';
import { createKeys } from '@spool/queue';
import { SpoolWorker } from '@spool/worker';
import { messageIds, spyOnChannel } from '../support/channel-spies.js';
import { joinDeltas, postJson, readEvents } from '../support/http.js';
import { silentLogger, useStack } from '../support/stack.js';

// Only in the `redis-cluster` project (vitest.config.ts): REDIS_URL names the local 3-master cluster.
describe('on a Redis Cluster, a job event stream', () => {
  const stack = useStack({ workers: 0, simulator: { tokensPerSecond: 200 } });

  it("goes by sharded pub/sub: SPUBLISH from the job's scripts, the API's SSUBSCRIBE on the channel's master, no plain PUBLISH", async () => {
    const cluster = stack.api.deps.redis as Cluster;
    expect(cluster).toBeInstanceOf(Cluster);
    const job = (await postJson(`${stack.url}/v1/jobs`, { messages: [{ role: 'user', content: '[[sim tokens=10]] sharded' }] })).body;
    const channel = createKeys(stack.config.prefix).eventsChannel(job.id);
    // On the master owning the channel's slot: a plain PUBLISH reaches its plain subscribers (and
    // every other node's, over the cluster bus), an SPUBLISH its sharded ones only.
    const [host, port] = cluster.slots[calculateSlot(channel)][0].split(':');
    const spies = await spyOnChannel(host, Number(port), channel);
    try {
      const watching = readEvents(`${stack.url}${job.stream_url}`);
      await vi.waitFor(() => expect(stack.api.deps.hub.watcherCount).toBe(1), { interval: 20 });
      expect(await spies.subscribers()).toEqual({ plain: 1, sharded: 2 }); // the API's SSUBSCRIBE, and the spies
      const plainSubscribers = await Promise.all(cluster.nodes('master').map((node) => node.pubsub('NUMSUB', channel) as Promise<[string, number]>));
      expect(plainSubscribers.reduce((sum, [, count]) => sum + count, 0)).toBe(1); // the spy alone, on any master

      stack.workers.push(new SpoolWorker({ config: stack.config, logger: silentLogger }));
      const events = await watching;
      const done = events.at(-1)!;
      expect(done.event).toBe('done');
      expect(joinDeltas(events)).toBe(JSON.parse(done.data).result.content);

      await spies.settled();
      expect(spies.plain).toEqual([]);
      expect(messageIds(spies.sharded)).toEqual(events.slice(1).map((event) => event.id)); // all but `queued`, sent before the spies
      // The stream over, the API lets the channel go.
      await vi.waitFor(async () => expect(await spies.subscribers()).toEqual({ plain: 1, sharded: 1 }), { interval: 20 });
    } finally {
      spies.close();
    }
  });
});

describe('on a Redis Cluster, a job event stream whose shard connection is lost', () => {
  const stack = useStack({ workers: 0, simulator: { tokensPerSecond: 200 } });

  it("SSUBSCRIBEs again on the channel's master and goes on to the done", async () => {
    const cluster = stack.api.deps.redis as Cluster;
    const job = (await postJson(`${stack.url}/v1/jobs`, { messages: [{ role: 'user', content: '[[sim tokens=10]] resubscribed' }] })).body;
    const channel = createKeys(stack.config.prefix).eventsChannel(job.id);
    const [host, port] = cluster.slots[calculateSlot(channel)][0].split(':');
    const owner = cluster.nodes('master').find((node) => node.options.host === host && node.options.port === Number(port))!;
    const subscribers = async () => ((await owner.pubsub('SHARDNUMSUB', channel)) as [string, number])[1];

    const watching = readEvents(`${stack.url}${job.stream_url}`);
    await vi.waitFor(() => expect(stack.api.deps.hub.watcherCount).toBe(1), { interval: 20 });
    const clients = ((await owner.client('LIST')) as string).split('\n');
    const shardConnection = clients.find((line) => line.includes(`(ssubscriber):${stack.config.prefix}-subscriber`) && / ssub=1 /.test(line));
    expect(shardConnection).toBeDefined();
    await owner.client('KILL', 'ID', shardConnection!.match(/^id=(\d+)/)![1]);
    expect(await subscribers()).toBe(0);
    await vi.waitFor(async () => expect(await subscribers()).toBe(1), { interval: 20 });

    stack.workers.push(new SpoolWorker({ config: stack.config, logger: silentLogger }));
    const events = await watching;
    const done = events.at(-1)!;
    expect(done.event).toBe('done');
    expect(joinDeltas(events)).toBe(JSON.parse(done.data).result.content);
  });
});
