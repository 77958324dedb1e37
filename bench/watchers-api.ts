/**
 * The API as `npm run api` runs it (same configuration from the environment, same logger), plus an
 * IPC channel on which the watchers figure asks for this process's memory after a full GC.
 * Run with `node --expose-gc --import tsx bench/watchers-api.ts` and an IPC channel.
 */
import { createLogger, loadConfigOrExit } from '@spool/config';
import { ApiServer } from '@spool/api';

export interface MemoryReport {
  type: 'memory';
  heapUsed: number;
  external: number;
  rss: number;
  watchers: number;
}

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc || !process.send) {
  process.stderr.write('watchers-api: run with --expose-gc and an IPC channel\n');
  process.exit(2);
}
const config = loadConfigOrExit();
const logger = createLogger({ name: 'spool-api', level: config.logLevel, pretty: false });
const api = new ApiServer({ config, logger });
const url = await api.listen();
process.send({ type: 'listening', url });

process.on('message', (message: { type: string }) => {
  if (message.type === 'measure') {
    // Twice: the first pass can leave finalizers whose memory only the second frees.
    gc();
    gc();
    const usage = process.memoryUsage();
    const report: MemoryReport = { type: 'memory', heapUsed: usage.heapUsed, external: usage.external, rss: usage.rss, watchers: api.deps.hub.watcherCount };
    process.send!(report);
  } else if (message.type === 'stop') {
    void api.close(5000).finally(() => {
      logger.flush?.();
      process.exit(0);
    });
  }
});
