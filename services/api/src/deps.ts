import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import type { Config } from '@spool/config';
import type { ChatJobData, Keys } from '@spool/queue';
import type { JobRepository } from '@spool/jobs';
import type { EventHub, EventLog } from '@spool/stream';

/** What the API app is built from; main.ts wires real ones, tests their own. */
export interface AppDeps {
  config: Config;
  logger: Logger;
  redis: Redis;
  keys: Keys;
  queue: Queue<ChatJobData>;
  jobs: JobRepository;
  log: EventLog;
  hub: EventHub;
  /** SSE heartbeat interval, 15 s */
  heartbeatMs?: number;
}
