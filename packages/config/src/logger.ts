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
        // In place: the arguments array is the call's own, and most lines have nothing to mask.
        for (let index = 0; index < args.length; index++) if (typeof args[index] === 'string') args[index] = redactUrlsIn(args[index] as string);
        method.apply(this, args);
      },
    },
  };
  if (options.destination) return pino(base, options.destination);
  if (options.pretty ?? process.stdout.isTTY) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } });
  }
  // Asynchronous: a line is queued, not written, on the request's time; flushLogs (and pino's own
  // exit hook) write out what is left when the process exits.
  return pino(base, pino.destination({ dest: 1, sync: false }));
}

/**
 * Writes out at once what the logger's asynchronous destination still holds: call it before
 * `process.exit`, which would otherwise drop the last lines. A destination that cannot is left be.
 */
export function flushLogs(logger: Logger): void {
  const stream = (logger as unknown as Record<symbol, { flushSync?: () => void } | undefined>)[pino.symbols.streamSym];
  try {
    stream?.flushSync?.();
  } catch {
    // not ready yet, or closed: nothing is held that could still be written
  }
}

/** Exits with `code` once the logs are written out. */
export function exitAfterLogs(logger: Logger, code: number): never {
  flushLogs(logger);
  return process.exit(code);
}

export type { Logger };
