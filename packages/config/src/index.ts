export { loadConfig, readDotEnv, ConfigSchema, ConfigError, type Config } from './config.js';
export { createLogger, REDACT_PATHS, type Logger, type LoggerOptions } from './logger.js';
export { logProcessErrors } from './process-errors.js';
export { redactUrl, redactUrlsIn } from './redact-url.js';
