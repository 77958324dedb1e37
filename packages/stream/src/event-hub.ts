import type { JobEvent } from '@spool/contracts';
import { coalesceWrites, jobEventsPubSub, type Keys, type PubSub, type RedisClient } from '@spool/queue';
import { decodeMessage } from './event-format.js';
import { EventLog } from './event-log.js';

export type EventListener = (event: JobEvent) => void;

interface Watcher {
  jobId: string;
  lastId: number;
  listener: EventListener;
  closed: boolean;
  /** it was given a `done`: nothing more will come */
  ended: boolean;
}

/**
 * Fans a job's events out to every watcher in this process over ONE subscriber connection:
 * a watcher subscribes first, then reads the log after its cursor; live messages and the log
 * race, and only the event right after the cursor is taken from either. A gap (a message lost
 * during a reconnect) is filled from the log, so a watcher sees every event once, in order.
 * On a cluster it is sharded pub/sub (SSUBSCRIBE, pubsub.ts of @spool/queue): ioredis keeps one
 * subscriber connection per master, each for its slots' channels.
 */
export class EventHub {
  private readonly channels = new Map<string, { watchers: Set<Watcher>; subscribed: Promise<unknown> }>();
  private readonly log: EventLog;
  private readonly pubsub: PubSub;

  constructor(
    private readonly redis: RedisClient,
    private readonly subscriber: RedisClient,
    private readonly keys: Keys,
  ) {
    this.log = new EventLog(redis, keys);
    this.pubsub = jobEventsPubSub(subscriber);
    subscriber.on(this.pubsub.message, (channel: string, message: string) => this.onMessage(channel, message));
    // ioredis resubscribes after a reconnect (and, sharded, after a failover moved a master's
    // slots); whatever was published meanwhile is read back.
    subscriber.on(this.pubsub.resubscribed, () => {
      for (const { watchers } of this.channels.values()) for (const watcher of watchers) this.catchUpLater(watcher);
    });
  }

  get watcherCount(): number {
    let count = 0;
    for (const { watchers } of this.channels.values()) count += watchers.size;
    return count;
  }

  /**
   * Calls `listener` for every event after `afterId`, then live ones, until the returned function
   * is called. A cursor at or past the job's `done` (the job ended behind it) gets that `done`
   * once, though its id is not after `afterId`: it says that nothing will ever come.
   */
  async watch(jobId: string, afterId: number, listener: EventListener): Promise<() => void> {
    const watcher: Watcher = { jobId, lastId: afterId, listener, closed: false, ended: false };
    const channel = this.keys.eventsChannel(jobId);
    let entry = this.channels.get(channel);
    if (!entry) {
      coalesceWrites(this.subscriber);
      entry = { watchers: new Set(), subscribed: this.subscriber[this.pubsub.subscribe](channel) };
      this.channels.set(channel, entry);
    }
    entry.watchers.add(watcher);
    // Every watcher waits for the subscription, so nothing published after its log read is missed.
    try {
      await entry.subscribed;
      await this.catchUp(watcher);
    } catch (error) {
      this.unwatch(channel, watcher);
      throw error;
    }
    return () => this.unwatch(channel, watcher);
  }

  private unwatch(channel: string, watcher: Watcher): void {
    if (watcher.closed) return;
    watcher.closed = true;
    const entry = this.channels.get(channel);
    if (!entry) return;
    entry.watchers.delete(watcher);
    if (entry.watchers.size === 0) {
      this.channels.delete(channel);
      coalesceWrites(this.subscriber);
      this.subscriber[this.pubsub.unsubscribe](channel).catch(() => undefined);
    }
  }

  private async catchUp(watcher: Watcher): Promise<void> {
    coalesceWrites(this.redis);
    const events = await this.log.readAfter(watcher.jobId, watcher.lastId);
    for (const event of events) this.deliver(watcher, event);
    // Nothing after the cursor: the job may have ended at or before it (before this watcher subscribed).
    if (events.length === 0 && watcher.lastId > 0) {
      const last = await this.log.last(watcher.jobId);
      if (last) this.deliverEndBehind(watcher, last);
    }
  }

  /** A failed read is retried by the next message or reconnect. */
  private catchUpLater(watcher: Watcher): void {
    this.catchUp(watcher).catch(() => undefined);
  }

  /** Events arrive from the log and from pub/sub in any order; only the next one in line is taken. */
  private deliver(watcher: Watcher, event: JobEvent): void {
    if (watcher.closed || event.id !== watcher.lastId + 1) return;
    watcher.lastId = event.id;
    watcher.ended = event.event === 'done';
    watcher.listener(event);
  }

  /** A `done` at or before the cursor ends a watcher that has not had one. */
  private deliverEndBehind(watcher: Watcher, event: JobEvent): void {
    if (watcher.closed || watcher.ended || event.event !== 'done' || event.id > watcher.lastId) return;
    watcher.ended = true;
    watcher.listener(event);
  }

  private onMessage(channel: string, message: string): void {
    const entry = this.channels.get(channel);
    if (!entry) return;
    const event = decodeMessage(message);
    for (const watcher of entry.watchers) {
      if (event.id <= watcher.lastId) this.deliverEndBehind(watcher, event);
      else if (event.id === watcher.lastId + 1) this.deliver(watcher, event);
      else this.catchUpLater(watcher);
    }
  }
}
