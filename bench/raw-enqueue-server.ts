/**
 * Figure (c)'s baseline, run as its own process: the least an Express 5 route can do to queue a
 * chat job with BullMQ (same Redis preset, queue, prefix style and job options as Spool), and
 * nothing else: no validation, no job record, no event log.
 * Env: PORT, REDIS_URL, SPOOL_PREFIX. Prints `raw enqueue listening on http://HOST:PORT`.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { chatJobOptions, createChatQueue, createRedis, waitForRedis } from '@spool/queue';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = process.env.SPOOL_PREFIX ?? 'bench-raw';
const redis = createRedis(redisUrl, 'command', prefix);
await waitForRedis(redis, redisUrl);
const queue = createChatQueue(redis, prefix);

const app = express();
app.post('/v1/jobs', express.json({ limit: '1mb' }), async (req, res) => {
  const id = `job_${randomBytes(16).toString('hex')}`;
  await queue.add('chat', req.body, chatJobOptions(id, { priority: 5, attempts: 5 }));
  res.status(202).json({ id, object: 'job', status: 'queued' });
});

const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  console.log(`raw enqueue listening on http://127.0.0.1:${port}`);
});

const stop = async () => {
  server.closeAllConnections();
  server.close();
  await queue.close();
  await redis.quit().catch(() => undefined);
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
