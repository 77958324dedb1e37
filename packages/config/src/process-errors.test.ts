import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');

// What every entry point (API, worker) does first, in a real process so Node's own handling is what is tested.
const PROBE = `
import { createLogger, logProcessErrors } from '@spool/config';
logProcessErrors(createLogger({ name: 'probe', pretty: false }));
// Listened to after logProcessErrors, so this runs once the rejection was logged; when Node gets to
// it after module loading depends on the loader, so nothing else waits on a fixed number of ticks.
process.once('unhandledRejection', () => setImmediate(() => {
  console.log('still serving');
  setImmediate(() => { throw new Error('thrown by a callback'); });
}));
Promise.reject(new Error('lost rejection'));
`;

it('logs an unhandled rejection at error level and serves on; logs an uncaught exception as fatal and exits 1', { timeout: 20_000 }, async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', PROBE], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const [code] = await once(child, 'exit');
  const lines = output.trim().split('\n');
  const logs = lines.map((line) => (line.startsWith('{') ? JSON.parse(line) : line));
  // The log is asynchronous (pino's async destination), so its lines and the probe's console line
  // may interleave either way; the log's own lines keep their order.
  expect(logs.filter((line) => typeof line !== 'string')).toEqual([
    expect.objectContaining({ level: 50, msg: expect.stringMatching(/unhandled promise rejection/), err: expect.objectContaining({ message: 'lost rejection' }) }),
    expect.objectContaining({ level: 60, msg: expect.stringMatching(/uncaught exception/), err: expect.objectContaining({ message: 'thrown by a callback' }) }),
  ]);
  expect(logs.filter((line) => typeof line === 'string')).toEqual(['still serving']);
  expect(code).toBe(1);
});
