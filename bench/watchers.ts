/**
 * Many live SSE watchers of one job on one API process: the API's memory per watcher (heap and
 * external, after a full GC, over a baseline taken after a warm-up), the Redis connections the
 * process holds meanwhile (CLIENT LIST, by the names `createRedis` gives: `<prefix>-<role>`), and
 * whether every watcher got exactly the same, whole text. Used by `npm run bench` and by a test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createParser } from 'eventsource-parser';
import { Redis } from 'ioredis';
import type { MemoryReport } from './watchers-api.js';
import { inheritedEnv } from './processes.js';
import type { Row } from './report.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface WatchersOptions {
  redisUrl: string;
  /** the API process's whole Spool environment (SPOOL_PREFIX, SPOOL_STORE_URL, keys, ...) */
  env: Record<string, string>;
  /** bearer key of the tenant that submits and watches; none in open mode */
  apiKey?: string;
  watchers: number;
  /** the job's message; carries the simulator directive */
  prompt: string;
  /** starts the worker(s) once every watcher is connected and measured; resolves to a stop function */
  startWorker: () => Promise<() => Promise<void>>;
  /** watchers opened and closed before the baseline (JIT, lazily built state) */
  warmup?: number;
  /** how long the watchers may take to connect, and the job to stream to all of them */
  timeoutMs?: number;
  log?: (line: string) => void;
}

export interface WatchersResult {
  watchers: number;
  /** (heapUsed + external) growth per watcher, bytes */
  bytesPerWatcher: number;
  heapPerWatcher: number;
  externalPerWatcher: number;
  /** the API process's Redis connections while the watchers were connected */
  redisConnections: string[];
  /** watchers whose whole stream was the same as every other's, ending with `done` and with deltas joining into its result */
  exact: number;
  /** the text each exact watcher got: its deltas joined */
  content: string;
  failures: string[];
  connectMs: number;
  deliverMs: number;
}

/** The API child: `watchers-api.ts` with --expose-gc, its output kept as a tail for errors. */
class ApiChild {
  readonly process: ChildProcess;
  private readonly tail: string[] = [];

  constructor(env: Record<string, string>) {
    this.process = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/watchers-api.ts'], {
      cwd: ROOT,
      env: { ...inheritedEnv(), ...env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    for (const stream of [this.process.stdout, this.process.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        this.tail.push(...chunk.split('\n').filter(Boolean));
        this.tail.splice(0, Math.max(0, this.tail.length - 30));
      });
    }
  }

  /** The next IPC message of `type`, after sending `request` (if any). */
  async ask<T>(type: string, request?: { type: string }, timeoutMs = 30_000): Promise<T> {
    const answer = new Promise<T>((resolve, reject) => {
      const onMessage = (message: { type: string }) => {
        if (message.type !== type) return;
        cleanup();
        resolve(message as T);
      };
      const onExit = (code: number | null) => (cleanup(), reject(new Error(`watchers-api exited (${code}) before ${type}:\n${this.tail.join('\n')}`)));
      const timer = setTimeout(() => (cleanup(), reject(new Error(`watchers-api: no ${type} in ${timeoutMs} ms:\n${this.tail.join('\n')}`))), timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.process.off('message', onMessage);
        this.process.off('exit', onExit);
      };
      this.process.on('message', onMessage);
      this.process.on('exit', onExit);
    });
    if (request) this.process.send(request);
    return answer;
  }

  async stop(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    const exited = once(this.process, 'exit');
    this.process.send({ type: 'stop' });
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/** The body of a chunked HTTP/1.1 response. */
function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', at);
    if (lineEnd < 0) throw new Error('a chunk size line is cut off');
    const size = Number.parseInt(body.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size)) throw new Error('a chunk size is not a number');
    if (size === 0) return Buffer.concat(parts);
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

/**
 * One SSE client on a bare socket (`Connection: close`, so the server closes it after `done`):
 * thousands of them cost this process little, so the API, not the clients, is what is measured.
 */
class Watcher {
  private readonly chunks: Buffer[] = [];
  readonly socket: Socket;
  readonly firstData: Promise<void>;
  readonly ended: Promise<void>;
  error?: string;

  constructor(url: URL, headers: Record<string, string>) {
    let onFirst!: () => void;
    let onEnd!: () => void;
    this.firstData = new Promise((resolve) => (onFirst = resolve));
    this.ended = new Promise((resolve) => (onEnd = resolve));
    this.socket = connect(Number(url.port), url.hostname);
    const head = Object.entries({ host: url.host, accept: 'text/event-stream', connection: 'close', ...headers }).map(([name, value]) => `${name}: ${value}\r\n`);
    this.socket.write(`GET ${url.pathname}${url.search} HTTP/1.1\r\n${head.join('')}\r\n`);
    this.socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      onFirst();
    });
    this.socket.on('end', onEnd);
    this.socket.on('close', () => {
      onFirst();
      onEnd();
    });
    this.socket.on('error', (error) => {
      this.error ??= error.message;
      onFirst();
      onEnd();
    });
  }

  /** The response's status line, once its first bytes came. */
  get status(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(0, Math.max(0, all.indexOf('\r\n'))).toString('latin1');
  }

  /** The body it received, without the `: ping` comments (they come whenever its stream was idle a while). */
  get text(): string {
    const all = Buffer.concat(this.chunks);
    const bodyAt = all.indexOf('\r\n\r\n');
    if (bodyAt < 0) return '';
    return dechunk(all.subarray(bodyAt + 4)).toString('utf8').replaceAll(': ping\n\n', '');
  }
}

/** Opens `count` watchers of `url`, at most `parallel` still waiting for their first bytes at once (the listen backlog is finite). */
async function openWatchers(count: number, url: URL, headers: Record<string, string>, parallel = 128): Promise<Watcher[]> {
  const watchers: Watcher[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        next++;
        const watcher = new Watcher(url, headers);
        watchers.push(watcher);
        await watcher.firstData;
        if (!watcher.error && !watcher.status.includes(' 200 ')) watcher.error = `answered ${watcher.status}`;
      }
    }),
  );
  return watchers;
}

/** What a whole event stream says: ids 1..n, a `done` last, deltas joining into its result; else the problem. */
function readStream(text: string): { content: string; problem: string | null } {
  const events: { id: string | undefined; event: string | undefined; data: string }[] = [];
  const parser = createParser({ onEvent: (event) => events.push({ id: event.id, event: event.event, data: event.data }) });
  parser.feed(text);
  const content = events
    .filter((event) => event.event === 'delta')
    .map((event) => (JSON.parse(event.data) as { content: string }).content)
    .join('');
  if (events.some((event, index) => Number(event.id) !== index + 1)) return { content, problem: 'event ids are not 1..n' };
  const done = events.at(-1);
  if (done?.event !== 'done') return { content, problem: 'no done event last' };
  const job = JSON.parse(done.data) as { status: string; result?: { content: string } };
  if (job.status !== 'succeeded') return { content, problem: `the job ${job.status}` };
  return { content, problem: content === job.result?.content ? null : 'deltas do not join into result.content' };
}

async function namedConnections(redisUrl: string, prefix: string): Promise<string[]> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    const list = (await redis.client('LIST')) as string;
    return list
      .split('\n')
      .map((line) => /\bname=(\S*)/.exec(line)?.[1] ?? '')
      .filter((name) => name.startsWith(`${prefix}-`));
  } finally {
    redis.disconnect();
  }
}

export async function measureWatchers(options: WatchersOptions): Promise<WatchersResult> {
  const log = options.log ?? (() => undefined);
  const timeoutMs = options.timeoutMs ?? 60_000;
  const prefix = options.env.SPOOL_PREFIX;
  if (!prefix) throw new Error('measureWatchers: env.SPOOL_PREFIX is required');
  const headers: Record<string, string> = options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {};
  const api = new ApiChild({ ...options.env, PORT: '0' });
  let stopWorker: (() => Promise<void>) | undefined;
  let watchers: Watcher[] = [];
  try {
    const { url } = await api.ask<{ url: string }>('listening');
    const submitted = await fetch(`${url}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ messages: [{ role: 'user', content: options.prompt }] }),
    });
    if (submitted.status !== 202) throw new Error(`POST /v1/jobs answered ${submitted.status}: ${await submitted.text()}`);
    const job = (await submitted.json()) as { id: string };
    const eventsUrl = new URL(`${url}/v1/jobs/${job.id}/events`);

    const warm = await openWatchers(options.warmup ?? 200, eventsUrl, headers);
    for (const watcher of warm) watcher.socket.destroy();
    const deadline = Date.now() + timeoutMs;
    let baseline = await api.ask<MemoryReport>('memory', { type: 'measure' });
    while (baseline.watchers > 0) {
      if (Date.now() > deadline) throw new Error(`${baseline.watchers} warm-up watchers still open`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      baseline = await api.ask<MemoryReport>('memory', { type: 'measure' });
    }

    const opening = performance.now();
    watchers = await openWatchers(options.watchers, eventsUrl, headers);
    const connectMs = performance.now() - opening;
    const refused = watchers.filter((watcher) => watcher.error);
    if (refused.length) throw new Error(`${refused.length} watchers failed to connect; first: ${refused[0].error}`);
    const loaded = await api.ask<MemoryReport>('memory', { type: 'measure' });
    if (loaded.watchers !== options.watchers) throw new Error(`the API counts ${loaded.watchers} watchers, not ${options.watchers}`);
    const redisConnections = await namedConnections(options.redisUrl, prefix);
    const heapPerWatcher = (loaded.heapUsed - baseline.heapUsed) / options.watchers;
    const externalPerWatcher = (loaded.external - baseline.external) / options.watchers;
    log(`${options.watchers} watchers connected in ${(connectMs / 1000).toFixed(1)} s: ${((heapPerWatcher + externalPerWatcher) / 1024).toFixed(1)} KB each (heap ${(heapPerWatcher / 1024).toFixed(1)}, external ${(externalPerWatcher / 1024).toFixed(1)}); Redis connections ${redisConnections.length} (${redisConnections.join(', ')})`);

    const delivering = performance.now();
    stopWorker = await options.startWorker();
    let timer: NodeJS.Timeout | undefined;
    const allEnded = Promise.all(watchers.map((watcher) => watcher.ended));
    await Promise.race([allEnded, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`the job did not reach every watcher within ${timeoutMs} ms`)), timeoutMs)))]);
    clearTimeout(timer);
    const deliverMs = performance.now() - delivering;

    const failures: string[] = [];
    const reference = watchers[0].text;
    const { content, problem } = readStream(reference);
    if (problem) failures.push(`watcher 0: ${problem}`);
    let exact = 0;
    for (const [index, watcher] of watchers.entries()) {
      if (watcher.error) failures.push(`watcher ${index}: ${watcher.error}`);
      else if (watcher.text !== reference) failures.push(`watcher ${index}: a different stream (${watcher.text.length} vs ${reference.length} characters)`);
      else if (!problem) exact++;
    }
    log(`the job reached all ${options.watchers} watchers in ${(deliverMs / 1000).toFixed(1)} s; ${exact} got exactly the same whole stream`);
    return {
      watchers: options.watchers,
      bytesPerWatcher: heapPerWatcher + externalPerWatcher,
      heapPerWatcher,
      externalPerWatcher,
      redisConnections,
      exact,
      content,
      failures: failures.slice(0, 10),
      connectMs,
      deliverMs,
    };
  } finally {
    for (const watcher of watchers) watcher.socket.destroy();
    await stopWorker?.();
    await api.stop();
  }
}

/** The figures as rows of the bench's Markdown table. */
export function watchersRows(result: WatchersResult): Row[] {
  const label = `${result.watchers.toLocaleString('en-US')} live SSE watchers of one job, one API process`;
  const kb = result.bytesPerWatcher / 1024;
  return [
    {
      figure: `(f) API memory per watcher (heap + external after GC), ${label}`,
      spool: `${kb.toFixed(1)} KB (heap ${(result.heapPerWatcher / 1024).toFixed(1)}, external ${(result.externalPerWatcher / 1024).toFixed(1)})`,
      baseline: '',
      comparison: '',
      goal: '≤ 20 KB',
      met: kb <= 20,
    },
    {
      figure: `(f) Redis connections of the API process, ${label}`,
      spool: `${result.redisConnections.length} (${result.redisConnections.map((name) => name.split('-').at(-1)).join(', ')})`,
      baseline: '',
      comparison: '',
      goal: '≤ 4',
      met: result.redisConnections.length <= 4,
    },
    {
      figure: `(f) watchers that got the exact text, ${label}`,
      spool: `${result.exact} of ${result.watchers}${result.failures.length ? ` (first: ${result.failures[0]})` : ''}`,
      baseline: '',
      comparison: `connected in ${(result.connectMs / 1000).toFixed(1)} s; worker start + reply to all ${(result.deliverMs / 1000).toFixed(1)} s`,
      goal: 'all',
      met: result.exact === result.watchers,
    },
  ];
}
