import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
export { freePort } from '../scripts/free-port.js';

/** The repository root: children run from here so their imports and `.env` resolve as in deployment. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

const TAIL_LINES = 40;

export interface ChildOptions {
  /** shown in logs and errors */
  name: string;
  /** entry file, relative to the repository root, run with `node --import tsx` */
  script: string;
  env: Record<string, string>;
}

/** Log lines at warn or above, counted by message, so the report can say what a child complained about. */
export interface LogSummary {
  level: string;
  msg: string;
  count: number;
}

const LEVELS: Record<number, string> = { 40: 'warn', 50: 'error', 60: 'fatal' };

/** One child process of the bench; its output is kept (a tail and warn+ counts), never echoed. */
export class Child {
  readonly process: ChildProcess;
  readonly exited: Promise<number | null>;
  private readonly tail: string[] = [];
  private readonly warnings = new Map<string, LogSummary>();
  private readonly lineListeners = new Set<(line: string) => void>();

  constructor(readonly name: string, child: ChildProcess) {
    this.process = child;
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        partial += chunk;
        let newline: number;
        while ((newline = partial.indexOf('\n')) >= 0) {
          this.onLine(partial.slice(0, newline));
          partial = partial.slice(newline + 1);
        }
      });
    }
  }

  get pid(): number {
    return this.process.pid ?? -1;
  }

  get alive(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  get output(): string {
    return this.tail.join('\n');
  }

  get logSummary(): LogSummary[] {
    return [...this.warnings.values()];
  }

  /** Resolves with the first match of `pattern` in a line of output; rejects on exit or timeout. */
  waitForLine(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const done = (error?: Error, match?: RegExpExecArray) => {
        clearTimeout(timer);
        this.lineListeners.delete(listener);
        if (error) reject(error);
        else resolve(match as RegExpExecArray);
      };
      const listener = (line: string) => {
        const match = pattern.exec(line);
        if (match) done(undefined, match);
      };
      const timer = setTimeout(() => done(this.failure(`no line matching ${pattern} within ${timeoutMs} ms`)), timeoutMs);
      this.lineListeners.add(listener);
      void this.exited.then((code) => done(this.failure(`exited with ${code} before printing ${pattern}`)));
    });
  }

  failure(reason: string): Error {
    return new Error(`${this.name}: ${reason}\n--- last output of ${this.name} ---\n${this.output}`);
  }

  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.alive) return;
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  private onLine(line: string): void {
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
    this.countWarning(line);
    for (const listener of this.lineListeners) listener(line);
  }

  private countWarning(line: string): void {
    // At info every request is a line: only warn and above (levels 40, 50, 60) are parsed.
    if (!line.startsWith('{') || !/"level":[456]0\b/.test(line)) return;
    try {
      const record = JSON.parse(line) as { level?: number; msg?: string };
      const level = LEVELS[record.level ?? 0];
      if (!level) return;
      const key = `${level} ${record.msg}`;
      const entry = this.warnings.get(key) ?? { level, msg: String(record.msg), count: 0 };
      entry.count++;
      this.warnings.set(key, entry);
    } catch {
      // not a pino line
    }
  }
}

const children = new Set<Child>();

/** This process's environment without Spool's and the simulator's settings: the bench sets those itself. */
export function inheritedEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(SPOOL_|OPENAI_|SIMULATOR_|WORKER_|REDIS_URL$|PORT$|HOST$|LOG_LEVEL$|BENCH_)/.test(name)) env[name] = value;
  }
  return env;
}

/** The bench's own API key (tenant `bench`): keys, and with them the per-key rate limit, are on as users run Spool. */
export const BENCH_API_KEY = `sk-bench-${randomBytes(12).toString('hex')}`;
/** The header every bench client sends, to Spool and to the baselines alike (the same requests both sides). */
export const BENCH_AUTH = { authorization: `Bearer ${BENCH_API_KEY}` } as const;

/** One SQLite file per run, not the repository's ./data (the default store's kind, somewhere disposable); removed at exit. */
let storeDir: string | undefined;

/**
 * A Spool API's or worker's environment in the bench: the defaults (info logs, the SQLite store,
 * API keys with the per-key rate limit on) with only addresses and keys set: its own key prefix,
 * the simulator upstream, the bench's key, and a per-key rate high enough for the bench's own traffic.
 */
export function spoolEnv(redisUrl: string, prefix: string, port: number, simulatorUrl: string): Record<string, string> {
  return {
    REDIS_URL: redisUrl,
    SPOOL_PREFIX: prefix,
    PORT: String(port),
    HOST: '127.0.0.1',
    OPENAI_BASE_URL: simulatorUrl,
    OPENAI_API_KEY: 'bench',
    SPOOL_API_KEYS: `bench:${BENCH_API_KEY}`,
    SPOOL_STORE_URL: `sqlite:${join((storeDir ??= mkdtempSync(join(tmpdir(), 'spool-bench-'))), `${prefix}.db`)}`,
    // The bench is one client at thousands of requests a minute; 600/min would measure the limiter's 429s. Its check runs on every request.
    SPOOL_CLIENT_RPM: '1000000000',
  };
}

/** BENCH_PROFILE_DIR=dir: every child runs with `--cpu-prof`, its profile written under dir/<child name> when it exits. */
function profileArgs(name: string): string[] {
  const dir = process.env.BENCH_PROFILE_DIR;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${join(dir, name.replace(/[^\w.-]+/g, '-'))}`] : [];
}

/** Starts `node --import tsx <script>` from the repository root. */
export function startChild(options: ChildOptions): Child {
  const child = spawn(process.execPath, [...profileArgs(options.name), '--import', 'tsx', options.script], {
    cwd: ROOT,
    env: { ...inheritedEnv(), ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const handle = new Child(options.name, child);
  children.add(handle);
  void handle.exited.then(() => children.delete(handle));
  return handle;
}

/** Stops every child still running, all at once. */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...children].map((child) => child.stop()));
}

/**
 * Children die with the bench: a clean stop on SIGINT/SIGTERM or an error runs `cleanup`,
 * and whatever is still alive when this process exits gets SIGKILL.
 */
export function installExitHandlers(cleanup: () => Promise<void>): void {
  let cleaning = false;
  const stop = (signal: NodeJS.Signals) => {
    if (cleaning) process.exit(130); // a second Ctrl-C: the exit hook below still kills the children
    cleaning = true;
    console.error(`\nbench: ${signal}, stopping children and deleting keys`);
    cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('exit', () => {
    for (const child of children) if (child.alive) child.process.kill('SIGKILL');
    if (storeDir) rmSync(storeDir, { recursive: true, force: true });
  });
}

/** Polls `url` until it answers 200; the child's output is in the error if it never does. */
export async function waitForHttp(child: Child, url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!child.alive) throw child.failure(`exited before ${url} answered`);
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw child.failure(`${url} did not answer 200 within ${timeoutMs} ms`);
}
