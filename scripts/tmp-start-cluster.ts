import { writeFileSync } from 'node:fs';
import { LocalRedisCluster } from '../test/support/redis-cluster.js';
const cluster = await LocalRedisCluster.start(3);
writeFileSync('/tmp/cluster-url', cluster.url);
console.log(cluster.url);
process.on('SIGTERM', async () => { await cluster.stop(); process.exit(0); });
setInterval(() => {}, 1 << 30);
