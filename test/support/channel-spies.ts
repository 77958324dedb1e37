import { Redis } from 'ioredis';

/** What reached a channel's two spies on one Redis node, and who listens there. */
export interface ChannelSpies {
  /** messages of a plain SUBSCRIBE: what PUBLISH sends */
  plain: string[];
  /** messages of an SSUBSCRIBE: what SPUBLISH sends */
  sharded: string[];
  /** PUBSUB NUMSUB and SHARDNUMSUB of the channel on the node, the spies' own included */
  subscribers(): Promise<{ plain: number; sharded: number }>;
  /** resolves once whatever was published on the node before it has reached the spies */
  settled(): Promise<void>;
  close(): void;
}

/** A plain and a sharded subscriber of `channel` on the Redis node at `host`:`port`. */
export async function spyOnChannel(host: string, port: number, channel: string): Promise<ChannelSpies> {
  const connect = () => {
    const redis = new Redis(port, host, { maxRetriesPerRequest: null });
    redis.on('error', () => undefined);
    return redis;
  };
  const [admin, plainSpy, shardSpy] = [connect(), connect(), connect()];
  const plain: string[] = [];
  const sharded: string[] = [];
  plainSpy.on('message', (_channel: string, message: string) => plain.push(message));
  shardSpy.on('smessage', (_channel: string, message: string) => sharded.push(message));
  await Promise.all([plainSpy.subscribe(channel), shardSpy.ssubscribe(channel)]);
  return {
    plain,
    sharded,
    async subscribers() {
      const [[, plainCount], [, shardedCount]] = (await Promise.all([admin.pubsub('NUMSUB', channel), admin.pubsub('SHARDNUMSUB', channel)])) as [string, number][];
      return { plain: plainCount, sharded: shardedCount };
    },
    // A script's PUBLISH or SPUBLISH is written to the node's subscribers as it runs: a reply to
    // each spy comes after it.
    async settled() {
      await Promise.all([plainSpy.ping(), shardSpy.ping()]);
    },
    close() {
      for (const redis of [admin, plainSpy, shardSpy]) redis.disconnect();
    },
  };
}

/** The event ids of messages published on a job's channel (`id\nevent\ndata`). */
export const messageIds = (messages: string[]) => messages.map((message) => Number(message.split('\n')[0]));
