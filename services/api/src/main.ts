import { loadConfigOrExit, createLogger, exitAfterLogs, logProcessErrors } from '@spool/config';
import { redactUrl, checkEvictionPolicy } from '@spool/queue';
import { OffThreadTracer } from '@spool/tracing';
import { ApiServer } from './server.js';

const config = loadConfigOrExit();
const logger = createLogger({ name: 'spool-api', level: config.logLevel, pretty: config.logPretty });
logProcessErrors(logger);
// Each submission's span is made and exported on a thread of its own (OTEL_EXPORTER_OTLP_ENDPOINT).
const tracer = await OffThreadTracer.start({ endpoint: config.otlpEndpoint, protocol: config.otlpProtocol, serviceName: 'spool-api', logger });
if (config.tenantKeys.size === 0) logger.warn('SPOOL_API_KEYS is not set: the API is open and every caller is tenant "default"');

const api = new ApiServer({ config, logger, tracer });
let url: string;
try {
  url = await api.listen();
} catch (error) {
  logger.fatal((error as Error).message);
  exitAfterLogs(logger, 1);
}
const policy = await checkEvictionPolicy(api.deps.redis);
if (policy) logger.warn(`Redis maxmemory-policy is ${policy}: set it to noeviction or queued jobs can be lost`);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'api stopping: finishing requests in progress (up to 30 s)');
  await api.close();
  await tracer?.shutdown();
  exitAfterLogs(logger, 0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
// Ready only once a stop is handled: a SIGTERM sent on this line must not kill the process.
logger.info({ redis: redactUrl(config.redisUrl) }, `api listening on ${url}`);
