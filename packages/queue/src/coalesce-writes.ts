import type { Redis, RedisClient } from './redis.js';

type Stream = Redis['stream'];

const held = new WeakSet<Stream>();

/**
 * Holds the connection's writes until the current turn of the event loop has run: the commands
 * sent meanwhile, by this request and by the others being served, leave in one system call
 * instead of one each. Order is kept and nothing waits on a timer: the writes go out before the
 * loop polls again. (ioredis' auto-pipelining batches too, but builds a pipeline per batch and
 * copies every loaded script, BullMQ's dozens, into it.) A cluster's connections are left as they are.
 */
export function coalesceWrites(redis: RedisClient): void {
  const stream = 'stream' in redis ? redis.stream : undefined;
  if (!stream || held.has(stream)) return;
  held.add(stream);
  stream.cork();
  setImmediate(() => {
    held.delete(stream);
    stream.uncork();
  });
}

const coalescing = new WeakSet<Redis>();

/**
 * `coalesceWrites` before every command sent on `redis`, for a connection that many concurrent
 * jobs share (a worker's): the starts, ends, budget steps and appends of one turn leave in one
 * system call, and Redis reads them in one. Never for a connection that blocks (BLMOVE, BZPOPMIN).
 * A cluster's connections are left as they are.
 */
export function coalesceEveryWrite(redis: RedisClient): void {
  if (!('stream' in redis) || coalescing.has(redis)) return;
  coalescing.add(redis);
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = (...args: Parameters<Redis['sendCommand']>) => {
    coalesceWrites(redis);
    return send(...args);
  };
}
