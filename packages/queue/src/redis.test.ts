import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { redisAnswers } from './redis.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A loopback port nothing listens on (taken, then freed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('redisAnswers', () => {
  it('is true when a Redis answers PING at the URL', async () => {
    expect(await redisAnswers(REDIS_URL, 2000)).toBe(true);
  });

  it('is false, without throwing, when nothing listens there', async () => {
    expect(await redisAnswers(`redis://127.0.0.1:${await closedPort()}`, 2000)).toBe(false);
  });
});
