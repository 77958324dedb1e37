import { describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import { postJson } from '../support/http.js';
import { useStack } from '../support/stack.js';

/** Count of keys matching `pattern` on each master of the cluster. */
async function keysPerMaster(cluster: Cluster, pattern: string): Promise<number[]> {
  return Promise.all(
    cluster.nodes('master').map(async (node) => {
      let count = 0;
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        count += keys.length;
        cursor = next;
      } while (cursor !== '0');
      return count;
    }),
  );
}

// Only in the `redis-cluster` project (vitest.config.ts): REDIS_URL names the local 3-master cluster.
describe('on a Redis Cluster', () => {
  const stack = useStack();

  it("spreads jobs' records and event logs over the masters, and keeps the control slot and the queue on one", async () => {
    const redis = stack.api.deps.redis;
    expect(redis).toBeInstanceOf(Cluster);
    const cluster = redis as Cluster;
    const jobs = await Promise.all(Array.from({ length: 30 }, (_, i) => postJson(`${stack.url}/v1/jobs?wait=20`, { messages: [{ role: 'user', content: `[[sim tokens=3]] ${i}` }] })));
    for (const { body } of jobs) expect(body.status).toBe('succeeded');

    const { prefix } = stack.config;
    const records = await keysPerMaster(cluster, `${prefix}:job:*`);
    const logs = await keysPerMaster(cluster, `${prefix}:events:*`);
    expect(records.reduce((sum, count) => sum + count, 0)).toBe(30);
    expect(records.filter((count) => count > 0).length).toBeGreaterThan(1);
    expect(logs.filter((count) => count > 0).length).toBeGreaterThan(1);
    const control = await keysPerMaster(cluster, `{${prefix}}:*`);
    expect(control.filter((count) => count > 0)).toHaveLength(1);
  });
});
