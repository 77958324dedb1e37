import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');

export interface Child {
  process: ChildProcess;
  output: string[];
  /** resolves with the first output line matching `pattern` */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGKILL, or another signal; resolves on exit */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Every process started here and still running: killed when the test process exits, whatever its tests left behind. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Runs one of Spool's entry points as a real process, as `npm run ...` does. */
export function runProcess(entry: string, env: Record<string, string>): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const output: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      if (!line) continue;
      output.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.pattern.test(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return {
    process: child,
    output,
    waitFor(pattern, timeoutMs = 20_000) {
      const found = output.find((line) => pattern.test(line));
      if (found) return Promise.resolve(found);
      return new Promise((resolvePromise, reject) => {
        const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} in:\n${output.join('\n')}`)), timeoutMs);
        waiters.push({ pattern, resolve: (line) => (clearTimeout(timer), resolvePromise(line)) });
        void exited.then((code) => reject(new Error(`${entry} exited (${code}) before ${pattern}:\n${output.join('\n')}`)));
      });
    },
    async stop(signal = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}

export async function startApiProcess(env: Record<string, string>): Promise<{ child: Child; url: string }> {
  const child = runProcess('services/api/src/main.ts', { PORT: '0', LOG_LEVEL: 'info', ...env });
  const line = await child.waitFor(/api listening on/);
  const url = /api listening on (http:\/\/[^"\s]+)/.exec(line)![1];
  return { child, url };
}

export async function startWorkerProcess(env: Record<string, string>): Promise<Child> {
  const child = runProcess('services/worker/src/main.ts', { LOG_LEVEL: 'info', ...env });
  await child.waitFor(/worker ready/);
  return child;
}

export async function startSimulatorProcess(env: Record<string, string> = {}): Promise<{ child: Child; url: string }> {
  const child = runProcess('packages/simulator/src/main.ts', { SIMULATOR_PORT: '0', ...env });
  const line = await child.waitFor(/simulator listening on/);
  return { child, url: /(http:\/\/\S+)/.exec(line)![1] };
}
