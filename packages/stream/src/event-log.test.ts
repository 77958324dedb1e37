import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobEventData, StatusEventData, type JobEventName } from '@spool/contracts';
import { createKeys, createRedis, jobEventsPubSub, resolveIncludes, waitForRedis, type RedisClient } from '@spool/queue';
import { decodeEntry, decodeMessage, encodeEvent, eventData, streamedText } from './event-format.js';
import { EventLog } from './event-log.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** What a job script does with the write-side fragment: one status entry appended and published. */
const APPEND_STATUS = resolveIncludes(
  ['--- @include "./commands/event-log.lua"', 'return appendEvent(KEYS[1], KEYS[2], ARGV[1], statusEntry(ARGV[2], ARGV[3]))'].join('\n'),
  new URL(import.meta.url),
);

describe('the event log: Lua writes what TypeScript reads', () => {
  const keys = createKeys(`test-${randomUUID().slice(0, 12)}`);
  let redis: RedisClient;
  let subscriber: RedisClient;

  beforeAll(async () => {
    redis = createRedis(REDIS_URL, 'command', keys.prefix);
    subscriber = createRedis(REDIS_URL, 'subscriber', keys.prefix);
    await waitForRedis(redis, REDIS_URL);
  });
  afterAll(async () => {
    const found = await redis.keys(`${keys.prefix}:*`);
    if (found.length) await redis.unlink(...found);
    subscriber.disconnect();
    await redis.quit();
  });

  it("appendEvent's entry, in the log and on the channel, is the event the reader decodes; statusEntry parses with StatusEventData", async () => {
    const job = 'job_lua';
    await redis.rpush(keys.events(job), encodeEvent('status', { status: 'queued', attempt: 1 }));
    const pubsub = jobEventsPubSub(redis);
    await subscriber[pubsub.subscribe](keys.eventsChannel(job));
    const published = once(subscriber, pubsub.message);

    const id = await redis.eval(APPEND_STATUS, 2, keys.events(job), keys.eventsChannel(job), pubsub.publish, 'running', 3);

    expect(id).toBe(2);
    const [, message] = (await published) as [string, string];
    const [first, second] = await new EventLog(redis, keys).readAfter(job, 0);
    expect(decodeMessage(message)).toEqual(second);
    expect(second).toMatchObject({ id: 2, event: 'status' });
    expect(StatusEventData.parse(JSON.parse(second.data))).toEqual({ status: 'running', attempt: 3 });
    expect(eventData(second, 'status')).toEqual({ status: 'running', attempt: 3 });
    expect(eventData(first, 'status')).toEqual({ status: 'queued', attempt: 1 });
  });
});

describe('event entries', () => {
  const job = {
    id: 'job_1', object: 'job' as const, status: 'succeeded' as const, model: 'm', created_at: 1, started_at: 2, finished_at: 3,
    attempts: 1, priority: 5, session_id: null, batch_id: null, continues: null, metadata: {}, stream_url: '/v1/jobs/job_1/events',
    result: { content: 'hi', finish_reason: 'stop' as const, usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } },
    partial: null, error: null, cost_usd: 0.0000015,
  };
  const samples: { [Name in JobEventName]: JobEventData[Name] } = {
    status: { status: 'queued', attempt: 2 },
    delta: { content: 'a line\nand "quotes"' },
    reset: { attempt: 2, reason: 'the previous attempt was interrupted' },
    done: job,
  };

  it.each(Object.keys(samples) as JobEventName[])('a %s event encodes to an entry whose data its contracts schema parses back', (name) => {
    const event = decodeEntry(7, encodeEvent(name, samples[name]));
    expect(event.event).toBe(name);
    expect(JobEventData[name].parse(JSON.parse(event.data))).toEqual(samples[name]);
    expect(eventData(event, name)).toEqual(samples[name]);
  });

  it('eventData of another event is null; streamedText keeps the deltas after the last reset', () => {
    const events = [
      encodeEvent('delta', { content: 'lost' }),
      encodeEvent('reset', samples.reset),
      encodeEvent('status', samples.status),
      encodeEvent('delta', { content: 'kept ' }),
      encodeEvent('delta', { content: 'text' }),
    ].map((entry, index) => decodeEntry(index + 1, entry));
    expect(eventData(events[0], 'done')).toBeNull();
    expect(streamedText(events)).toBe('kept text');
  });
});
