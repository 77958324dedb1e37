import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Redis } from 'ioredis';
import { newId } from '@spool/contracts';
import { createKeys } from '@spool/queue';
import { EventLog, streamedText } from '@spool/stream';
import { JobRepository, parseJobRecord } from '@spool/jobs';
import { PrivateRedis, readsDuring } from '../../../test/support/redis-server.js';
import { DeltaWriter } from './delta-writer.js';
import type { FlushSchedule } from './flush-clock.js';

/** A flush schedule whose ticks the test gives. */
class ManualClock implements FlushSchedule {
  readonly windowMs = 60_000;
  private readonly due = new Set<() => void>();

  schedule(callback: () => void): () => void {
    this.due.add(callback);
    return () => this.due.delete(callback);
  }

  tick(): void {
    const due = [...this.due];
    this.due.clear();
    for (const callback of due) callback();
  }
}

describe('DeltaWriter on a shared FlushClock', () => {
  const keys = createKeys(`test-${randomUUID().slice(0, 12)}`);
  // A server of its own: it counts the reads it makes, and no other client's may count.
  let server: PrivateRedis;
  let redis: Redis;
  let reader: Redis;
  let jobs: JobRepository;
  let log: EventLog;

  beforeAll(async () => {
    server = await PrivateRedis.start();
    redis = new Redis(server.url);
    reader = new Redis(server.url);
    jobs = new JobRepository(redis, keys);
    log = new EventLog(reader, keys);
  });
  afterAll(async () => {
    await Promise.all([redis?.quit(), reader?.quit()]);
    await server?.stop();
  });

  async function runningJob(): Promise<{ id: string; owner: string }> {
    const id = newId('job');
    await jobs.create({ id, tenant: 't', request: { model: 'm', messages: [{ role: 'user', content: 'x' }] }, priority: 5, metadata: {}, onInterrupt: 'continue' });
    const owner = randomUUID();
    expect((await jobs.start(id, owner)).state).toBe('started');
    return { id, owner };
  }

  const text = async (id: string) => streamedText(await log.readAfter(id, 0));

  it('writes each stream\'s first delta at once, and the rest of every stream on one tick in one write', async () => {
    const clock = new ManualClock();
    const streams = await Promise.all([runningJob(), runningJob(), runningJob()]);
    const writers = streams.map(({ id, owner }) => new DeltaWriter(jobs, id, owner, (error) => expect.fail(error.message), clock));
    writers.forEach((writer, index) => writer.push(`first ${index}.`));
    await vi.waitFor(async () => expect(await Promise.all(streams.map(({ id }) => text(id)))).toEqual(['first 0.', 'first 1.', 'first 2.']));

    const beforeTick = await readsDuring(reader, async () => {
      writers.forEach((writer, index) => writer.push(` second ${index}.`));
      writers.forEach((writer, index) => writer.push(` third ${index}.`));
      await new Promise(setImmediate);
    });
    expect(beforeTick).toBe(0);
    const onTick = await readsDuring(reader, async () => {
      clock.tick();
      await Promise.all(writers.map((writer) => writer.flush()));
    });
    expect(onTick).toBe(1);
    expect(await Promise.all(streams.map(({ id }) => text(id)))).toEqual(['first 0. second 0. third 0.', 'first 1. second 1. third 1.', 'first 2. second 2. third 2.']);
  });

  it('flush writes what is pending without waiting for the tick', async () => {
    const clock = new ManualClock();
    const { id, owner } = await runningJob();
    const writer = new DeltaWriter(jobs, id, owner, (error) => expect.fail(error.message), clock);
    writer.push('a');
    writer.push('b');
    await writer.flush();
    expect(await text(id)).toBe('ab');
  });

  it('end writes the last deltas and how the reply ended in one step; with nothing pending, the end alone', async () => {
    const clock = new ManualClock();
    const usage = { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 };
    const { id, owner } = await runningJob();
    const writer = new DeltaWriter(jobs, id, owner, (error) => expect.fail(error.message), clock);
    writer.push('a');
    await writer.flush();
    writer.push('b');
    const append = vi.spyOn(jobs, 'append');
    await writer.end({ finish_reason: 'stop', usage });
    expect(append).toHaveBeenCalledTimes(1);
    expect(append).toHaveBeenCalledWith(id, owner, [expect.stringContaining('"b"')], { finish_reason: 'stop', usage });
    append.mockRestore();
    expect(await text(id)).toBe('ab');
    expect(parseJobRecord((await jobs.get(id))!).stream_end).toEqual({ finish_reason: 'stop', usage });

    const quiet = await runningJob();
    const idle = new DeltaWriter(jobs, quiet.id, quiet.owner, (error) => expect.fail(error.message), clock);
    await idle.end({ finish_reason: 'length', usage });
    expect(parseJobRecord((await jobs.get(quiet.id))!).stream_end).toEqual({ finish_reason: 'length', usage });
    expect(await log.count(quiet.id)).toBe(2);
  });
});
