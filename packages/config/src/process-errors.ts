import type { Logger } from 'pino';
import { flushLogs } from './logger.js';

/**
 * Logs what would otherwise end the process without a word in the logs. An unhandled rejection
 * is a bug, but one request's bug must not take everyone's requests down with it: it is logged
 * and the process serves on. After an uncaught exception the process's state is unknown (Node's
 * advice is to exit), so it is logged and the process exits for its supervisor to restart it.
 */
export function logProcessErrors(logger: Logger, target: NodeJS.Process = process): void {
  target.on('unhandledRejection', (reason) => {
    logger.error({ err: reason }, 'unhandled promise rejection; serving on');
  });
  target.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception; exiting');
    flushLogs(logger);
    target.exit(1);
  });
}
