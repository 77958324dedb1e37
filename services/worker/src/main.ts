import { loadConfigOrExit, createLogger, exitAfterLogs, logProcessErrors } from '@spool/config';
import { redactUrl } from '@spool/queue';
import { startTracing, traceLogFields } from '@spool/tracing';
import { createWorkerProcess, type WorkerProcess } from './worker-process.js';
import { WorkerStopTimeoutError } from './errors.js';

const config = loadConfigOrExit();
const logger = createLogger({ name: 'spool-worker', level: config.logLevel, pretty: config.logPretty, mixin: config.otlpEndpoint ? traceLogFields : undefined });
logProcessErrors(logger);
// First, before any connection or job: spans are exported from here on (OTEL_EXPORTER_OTLP_ENDPOINT).
const tracing = await startTracing({ endpoint: config.otlpEndpoint, protocol: config.otlpProtocol, serviceName: 'spool-worker', logger });

let worker: WorkerProcess;
try {
  worker = createWorkerProcess({ config, logger });
} catch (error) {
  logger.fatal({ err: error }, 'cannot open the store (SPOOL_STORE_URL)');
  exitAfterLogs(logger, 1);
}
try {
  await worker.start();
} catch (error) {
  logger.fatal((error as Error).message);
  exitAfterLogs(logger, 1);
}

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'worker stopping: finishing jobs in flight');
  try {
    await worker.close();
  } catch (error) {
    // Without Redis, exit anyway: jobs still running are then taken over by another worker once their locks expire.
    if (error instanceof WorkerStopTimeoutError) {
      logger.error({ lock_ms: config.lockMs }, 'worker stop timed out (is Redis reachable?): exiting; jobs still running are taken over once their locks expire');
    } else {
      logger.error({ err: error }, 'worker stop failed');
    }
    await tracing.shutdown();
    exitAfterLogs(logger, 1);
  }
  logger.info('worker stopped');
  await tracing.shutdown();
  exitAfterLogs(logger, 0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
// Ready only once a stop is handled: a SIGTERM sent on this line must not kill the process.
logger.info(
  {
    redis: redactUrl(config.redisUrl),
    upstreams: config.upstreams.map((upstream) => `${upstream.name} ${redactUrl(upstream.baseUrl ?? 'https://api.openai.com/v1')}`),
    concurrency: config.workerConcurrency,
    metrics: worker.metricsUrl,
  },
  'worker ready',
);
