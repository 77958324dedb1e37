import type { RedisClient } from './redis.js';

export type PubSubMode = 'plain' | 'sharded';

/** The names one pub/sub mode goes by: a script's publish command, a subscriber's commands and events. */
export interface PubSub {
  mode: PubSubMode;
  /** what a script publishes with: `redis.call(publish, channel, message)` */
  publish: 'PUBLISH' | 'SPUBLISH';
  subscribe: 'subscribe' | 'ssubscribe';
  unsubscribe: 'unsubscribe' | 'sunsubscribe';
  /** the subscriber's event for a message: `(channel, message)` */
  message: 'message' | 'smessage';
  /** the subscriber's event once its subscriptions are back after a reconnect or a failover */
  resubscribed: 'ready' | 'subscribersReady';
}

const PUBSUB: Record<PubSubMode, PubSub> = {
  plain: { mode: 'plain', publish: 'PUBLISH', subscribe: 'subscribe', unsubscribe: 'unsubscribe', message: 'message', resubscribed: 'ready' },
  sharded: { mode: 'sharded', publish: 'SPUBLISH', subscribe: 'ssubscribe', unsubscribe: 'sunsubscribe', message: 'smessage', resubscribed: 'subscribersReady' },
};

/**
 * How jobs' events travel on `redis`, decided by its kind. On a cluster a plain PUBLISH is copied
 * to every node over the cluster bus, a token costing every shard; an SPUBLISH stays on the shard
 * owning the channel's slot (a job's channel is in the job's slot), where its subscribers are. A
 * single Redis has no shards to spare, and Redis 5 and 6 no sharded pub/sub: it stays plain.
 * Fleet-wide channels (cancel, upstream pause) are plain everywhere.
 */
export function jobEventsPubSub(redis: RedisClient): PubSub {
  return PUBSUB[redis.isCluster ? 'sharded' : 'plain'];
}
