import type { DiagLogger } from '@opentelemetry/api';

/** Where the SDK's own warnings go (a collector that cannot be reached, say). */
export interface DiagSink {
  warn(message: string): void;
  error(message: string): void;
}

/** The SDK's diagnostics as log lines: only what an operator can act on. */
export function diagLogger(logger: DiagSink): DiagLogger {
  const ignore = () => undefined;
  const text = (message: string, args: unknown[]) => ['opentelemetry:', message, ...args.map(String)].join(' ');
  return {
    error: (message, ...args) => logger.error(text(message, args)),
    warn: (message, ...args) => logger.warn(text(message, args)),
    info: ignore,
    debug: ignore,
    verbose: ignore,
  };
}
