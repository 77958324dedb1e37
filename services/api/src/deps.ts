import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from '@spool/config';
import type { ChatJobData, FairScheduler, Keys, ProviderBatchJobData, RedisClient } from '@spool/queue';
import type { OffThreadTracer } from '@spool/tracing';
import type { BatchRepository, JobRepository, ResponseCache } from '@spool/jobs';
import type { DeliveryLog } from '@spool/webhooks';
import type { EventHub, EventLog } from '@spool/stream';
import type { Store } from '@spool/store';
import type { Metrics } from '@spool/metrics';

/** What the API app is built from; main.ts wires real ones, tests their own. */
export interface AppDeps {
  config: Config;
  logger: Logger;
  redis: RedisClient;
  keys: Keys;
  queue: Queue<ChatJobData>;
  /** where submitted jobs wait their turn: each tenant its share of the workers */
  scheduler: FairScheduler;
  /** provider-mode batches, one entry each, for the worker's poller (API.md §14) */
  providerBatches: Queue<ProviderBatchJobData>;
  jobs: JobRepository;
  batches: BatchRepository;
  /** cached replies of cache-opted jobs (API.md §14) */
  responseCache: ResponseCache;
  /** webhook delivery attempts, by job */
  deliveries: DeliveryLog;
  log: EventLog;
  hub: EventHub;
  /** sessions and job records (SPOOL_STORE_URL) */
  store: Store;
  /** this process's metrics; default: a fresh registry reading `queue` and `hub` */
  metrics?: Metrics;
  /** SSE heartbeat interval, 15 s */
  heartbeatMs?: number;
  /** how long a `/v1/chat/completions` call waits for its job before answering 504, 1 h */
  doorWaitMs?: number;
  /** each job submission's span, when tracing is on (OTEL_EXPORTER_OTLP_ENDPOINT) */
  tracer?: OffThreadTracer;
  /** aborted when the process begins to stop: event streams end (their clients resume elsewhere), `?wait` answers at once */
  shutdown?: AbortSignal;
}
