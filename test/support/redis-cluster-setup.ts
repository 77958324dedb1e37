/** Global setup of the `redis-cluster` test project: a 3-master local cluster for the run, its URL provided to the tests. */
import type { TestProject } from 'vitest/node';
import { LocalRedisCluster } from './redis-cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisClusterUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cluster = await LocalRedisCluster.start(3);
  project.provide('redisClusterUrl', cluster.url);
  return () => cluster.stop();
}
