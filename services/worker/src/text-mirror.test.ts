import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { newId } from '@spool/contracts';
import { createKeys } from '@spool/queue';
import { encodeEvent, EventLog, streamedText } from '@spool/stream';
import { JobRepository } from '@spool/jobs';
import { DeltaWriter } from './delta-writer.js';
import { FlushClock } from './flush-clock.js';
import { TextMirror } from './text-mirror.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A job's text following another's, written through a real delta writer into the job's log on real Redis. */
describe('TextMirror', () => {
  const keys = createKeys(`test-${randomUUID().slice(0, 12)}`);
  let redis: Redis;
  let jobs: JobRepository;
  let log: EventLog;

  beforeAll(() => {
    redis = new Redis(REDIS_URL);
    jobs = new JobRepository(redis, keys);
    log = new EventLog(redis, keys);
  });
  afterAll(async () => {
    const found = await redis.keys(`${keys.prefix}:*`);
    if (found.length) await redis.unlink(...found);
    await redis.quit();
  });

  /** A running job and a mirror into it that starts from `text` (already in its log). */
  async function mirrorInto(text: string, restartable: boolean) {
    const id = newId('job');
    await jobs.create({ id, tenant: 't', request: { model: 'm', messages: [{ role: 'user', content: 'x' }] }, priority: 5, metadata: {}, onInterrupt: restartable ? 'restart' : 'continue' });
    const owner = randomUUID();
    await jobs.start(id, owner);
    if (text) await jobs.append(id, owner, [encodeEvent('delta', { content: text })]);
    const writer = new DeltaWriter(jobs, id, owner, () => undefined, new FlushClock(5));
    const restart = (reason: string) => jobs.append(id, owner, [encodeEvent('reset', { attempt: 1, reason })]);
    return { id, owner, mirror: new TextMirror(text, { writer, restart }, restartable) };
  }
  const eventsOf = async (id: string) => (await log.readAfter(id, 0)).map((event) => event.event);

  it('appends only what is new, and waits while the other text is behind its own', async () => {
    const { id, mirror } = await mirrorInto('Hello', false);
    expect(await mirror.follow('Hel', false)).toBe(true);
    expect(await mirror.follow('Hello, wor', false)).toBe(true);
    expect(await mirror.follow('Hello, world', true)).toBe(true);
    await mirror.flush();
    expect(streamedText(await log.readAfter(id, 0))).toBe('Hello, world');
    expect(mirror.text).toBe('Hello, world');
  });

  it('cannot follow a text that is not a continuation of its own when the job may not start over', async () => {
    const { id, mirror } = await mirrorInto('Hello', false);
    expect(await mirror.follow('Goodbye', false)).toBe(false);
    expect(await mirror.follow('Hel', true)).toBe(false); // at the end, behind is not the same
    await mirror.flush();
    expect(streamedText(await log.readAfter(id, 0))).toBe('Hello');
  });

  it('starts over with a reset when the job allows it', async () => {
    const { id, mirror } = await mirrorInto('Hello', true);
    expect(await mirror.follow('Goodbye', false)).toBe(true);
    await mirror.flush();
    expect(await eventsOf(id)).toEqual(['status', 'status', 'delta', 'reset', 'delta']);
    expect(streamedText(await log.readAfter(id, 0))).toBe('Goodbye');
  });

  it('says the job is lost once it is no longer the attempt’s, and writes nothing more', async () => {
    const { id, mirror } = await mirrorInto('', false);
    await jobs.finish(id, (await jobs.get(id))!, { status: 'cancelled', error: { code: 'cancelled', message: 'x' } });
    await mirror.follow('late text', false);
    await mirror.flush().catch(() => undefined);
    expect(mirror.lost).toBe(true);
    expect(await eventsOf(id)).toEqual(['status', 'status', 'done']);
  });
});
