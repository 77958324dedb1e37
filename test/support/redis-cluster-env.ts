/** Setup file of the `redis-cluster` test project: every test file (and the processes it starts) sees the cluster as REDIS_URL. */
import { inject } from 'vitest';

process.env.REDIS_URL = inject('redisClusterUrl');
