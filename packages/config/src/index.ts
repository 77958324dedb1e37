export { loadConfig, loadConfigOrExit, readDotEnv, ConfigSchema, ConfigError, type Config, type ModelSettings, type TenantSettings, type UpstreamSettings } from './config.js';
export { parseConfigFile, sha256Hex, ConfigFileError } from './config-file.js';
export { createLogger, flushLogs, exitAfterLogs, REDACT_PATHS, type Logger, type LoggerOptions } from './logger.js';
export { logProcessErrors } from './process-errors.js';
export { redactUrl, redactUrlsIn } from './redact-url.js';
export { parseClusterUrl, type ClusterUrl } from './redis-url.js';
export { costUsd, type TokenCounts } from './pricing.js';
export { servesModel, upstreamForModel } from './upstream-for-model.js';
