import pino, { type Logger, type DestinationStream } from 'pino';
import type { Config } from './config.js';

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
  'apiKeys',
  'config.openaiApiKey',
  'config.adminKey',
  'config.webhookSecret',
  'config.apiKeys',
];

export interface LoggerOptions {
  name: string;
  level?: Config['logLevel'];
  destination?: DestinationStream;
}

/** JSON logs; pretty when a person is watching a terminal. */
export function createLogger(options: LoggerOptions): Logger {
  const base = {
    name: options.name,
    level: options.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
  if (options.destination) return pino(base, options.destination);
  if (process.stdout.isTTY) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } });
  }
  return pino(base);
}

export type { Logger };
