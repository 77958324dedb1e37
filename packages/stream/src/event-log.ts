import type { JobEvent } from '@spool/contracts';
import type { Keys, RedisClient } from '@spool/queue';
import { decodeEntry } from './event-format.js';

/** Reads a job's event log. Writes go through the job repository, atomically with state. */
export class EventLog {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  /** Events with id greater than `afterId`, in order. */
  async readAfter(jobId: string, afterId = 0): Promise<JobEvent[]> {
    const entries = await this.redis.lrange(this.keys.events(jobId), afterId, -1);
    return entries.map((entry, index) => decodeEntry(afterId + index + 1, entry));
  }

  /** The log's last event, null when there is no log (none yet, or expired). */
  async last(jobId: string): Promise<JobEvent | null> {
    const key = this.keys.events(jobId);
    const replies = await this.redis.multi().llen(key).lindex(key, -1).exec();
    const entry = replies?.[1][1] as string | null;
    return entry ? decodeEntry(replies![0][1] as number, entry) : null;
  }

  async count(jobId: string): Promise<number> {
    return this.redis.llen(this.keys.events(jobId));
  }
}
