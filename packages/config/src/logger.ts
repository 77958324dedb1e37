import pino, { type Logger, type DestinationStream } from 'pino';
import type { Config } from './config.js';
import { redactUrlsDeep, redactUrlsIn } from './redact-url.js';

/** Paths pino blanks out wherever they appear; secrets never reach a log. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["idempotency-key"]',
  'headers.authorization',
  'authorization',
  'apiKey',
  'openaiApiKey',
  'adminKey',
  'webhookSecret',
  'metricsKey',
  'config.metricsKey',
  'apiKeys',
  'tenants',
  'tenantKeys',
  'upstreams',
  'headers["api-key"]',
  'config.openaiApiKey',
  'config.tenants',
  'config.tenantKeys',
  'config.upstreams',
  'config.adminKey',
  'config.webhookSecret',
  'config.apiKeys',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
];

export interface LoggerOptions {
  name: string;
  level?: Config['logLevel'];
  destination?: DestinationStream;
  /** pretty output (SPOOL_LOG_PRETTY); default: when stdout is a terminal */
  pretty?: boolean;
  /** fields added to every line, read when it is logged (the active trace's `trace_id` when tracing is on) */
  mixin?: () => Record<string, unknown>;
}

/** JSON logs; pretty when a person is watching a terminal. */
export function createLogger(options: LoggerOptions): Logger {
  const base = {
    name: options.name,
    level: options.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...(options.mixin && { mixin: options.mixin }),
    // Credentials inside URLs (OPENAI_BASE_URL, REDIS_URL, ...) are masked wherever a line carries them.
    formatters: { log: (object: Record<string, unknown>) => redactUrlsDeep(object) as Record<string, unknown> },
    hooks: {
      logMethod(this: Logger, args: unknown[], method: (...args: unknown[]) => void) {
        method.apply(this, args.map((arg) => (typeof arg === 'string' ? redactUrlsIn(arg) : arg)));
      },
    },
  };
  if (options.destination) return pino(base, options.destination);
  if (options.pretty ?? process.stdout.isTTY) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } });
  }
  return pino(base);
}

export type { Logger };
