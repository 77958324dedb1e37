/**
 * `npm start`: one API and one worker in the foreground, plus the simulator when no
 * OPENAI_API_KEY is set (or, with SPOOL_CONFIG's `upstreams`, one simulator for each upstream
 * that points at a free port of this machine and has no api_key), plus a private redis-server
 * when none answers at REDIS_URL. Ctrl-C stops them all.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { loadConfigOrExit, parseConfigFile, readDotEnv, type UpstreamSettings } from '@spool/config';
import { redactUrl, redisAnswers } from '@spool/queue';
import { freePort } from './free-port.js';

const env = readDotEnv(process.env);
const config = loadConfigOrExit(env);
const children: ChildProcess[] = [];
/** Each child's end: exited, and its output all passed on to ours. */
const closed = new Map<ChildProcess, Promise<void>>();

function say(message: string): void {
  console.log(`[spool] ${message}`);
}

function run(name: string, command: string, args: string[], extraEnv: Record<string, string> = {}): ChildProcess {
  const child = spawn(command, args, { env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout!.pipe(process.stdout);
  child.on('exit', (code, signal) => {
    if (!stopping) {
      say(`${name} exited (${signal ?? code}); stopping everything`);
      void stop(1);
    }
  });
  children.push(child);
  closed.set(child, new Promise((resolve) => child.once('close', () => resolve())));
  return child;
}

function runTs(name: string, entry: string, extraEnv: Record<string, string> = {}): ChildProcess {
  return run(name, process.execPath, ['--import', 'tsx', entry], extraEnv);
}

/** Resolves with the first stdout line matching `pattern`. */
function waitForLine(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString();
      const match = buffer.split('\n').find((line) => pattern.test(line));
      if (match) {
        child.stdout!.off('data', onData);
        resolve(match);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', () => reject(new Error(`exited before printing ${pattern}`)));
  });
}

async function ensureRedis(): Promise<string> {
  if (await redisAnswers(config.redisUrl, 2000)) return config.redisUrl;
  const hasRedisServer = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!hasRedisServer) {
    console.error(
      `[spool] No Redis answers at ${redactUrl(config.redisUrl)} and redis-server is not installed: install Redis (apt-get install redis-server, brew install redis) or set REDIS_URL.`,
    );
    process.exit(1);
  }
  const port = await freePort();
  say(`no Redis at ${redactUrl(config.redisUrl)}; starting a private redis-server on 127.0.0.1:${port} (kept in memory only)`);
  run('redis-server', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction']);
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50 && !(await redisAnswers(url, 2000)); i++) await new Promise((resolve) => setTimeout(resolve, 100));
  return url;
}

/** Whether something accepts connections at host:port. */
function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(1000);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

/** SPOOL_CONFIG lists `upstreams` (then OPENAI_* describe none). */
const upstreamsInFile = !!config.configPath && !!parseConfigFile(readFileSync(config.configPath, 'utf8'), env).upstreams;

/** The upstreams of SPOOL_CONFIG meant for a simulator: a base_url on this machine where nothing listens, and no api_key. */
async function simulatedUpstreams(): Promise<{ upstream: UpstreamSettings; host: string; port: number }[]> {
  if (!upstreamsInFile) return [];
  const found = [];
  for (const upstream of config.upstreams) {
    if (!upstream.baseUrl || upstream.apiKey) continue;
    const url = new URL(upstream.baseUrl);
    const host = url.hostname === 'localhost' ? '127.0.0.1' : url.hostname;
    if (!['127.0.0.1', '[::1]'].includes(host) || !url.port) continue;
    if (!(await listening(host, Number(url.port)))) found.push({ upstream, host, port: Number(url.port) });
  }
  return found;
}

/** A simulator standing in for `upstream` on its port: its name (for `on=` faults), its limits, the models it serves (by their names there). */
async function simulate({ upstream, host, port }: { upstream: UpstreamSettings; host: string; port: number }): Promise<void> {
  const models = upstream.models.includes('*') ? [] : upstream.models.map((model) => upstream.modelMap[model] ?? model);
  const simulator = runTs(`simulator ${upstream.name}`, 'packages/simulator/src/main.ts', {
    SIMULATOR_PORT: String(port),
    SIMULATOR_HOST: host.replace(/^\[|\]$/g, ''),
    SIMULATOR_NAME: upstream.name,
    ...(upstream.rpm && { SIMULATOR_RPM: String(upstream.rpm) }),
    ...(upstream.tpm && { SIMULATOR_TPM: String(upstream.tpm) }),
    ...(models.length && { SIMULATOR_MODELS: models.join(',') }),
  });
  await waitForLine(simulator, /simulator listening on/);
  say(`upstream ${upstream.name}: nothing listened at ${upstream.baseUrl}, so the built-in simulator runs there (named ${upstream.name})`);
}

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  const alive = children.filter((child) => child.exitCode === null && child.signalCode === null);
  // Redis goes last, once the API and worker have let go of it.
  const redis = alive.filter((child) => child.spawnfile === 'redis-server');
  const others = alive.filter((child) => !redis.includes(child));
  // `close`, not `exit`: a child's last lines (its logs flushed as it exits) are passed on first.
  const end = (child: ChildProcess) => (child.kill('SIGTERM'), closed.get(child));
  await Promise.all(others.map(end));
  await Promise.all(redis.map(end));
  await Promise.all(closed.values());
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

const redisUrl = await ensureRedis();
const shared: Record<string, string> = { REDIS_URL: redisUrl };
// The children's stdout is a pipe to ours: they log pretty when ours is a terminal.
if (process.stdout.isTTY && env.SPOOL_LOG_PRETTY === undefined) shared.SPOOL_LOG_PRETTY = '1';
for (const upstream of await simulatedUpstreams()) await simulate(upstream);
if (!config.openaiApiKey && !upstreamsInFile) {
  const simulator = runTs('simulator', 'packages/simulator/src/main.ts', { SIMULATOR_PORT: '0' });
  const line = await waitForLine(simulator, /simulator listening on/);
  const url = /(http:\/\/\S+)/.exec(line)![1];
  shared.OPENAI_BASE_URL = url;
  say(`OPENAI_API_KEY is not set: the worker uses the built-in simulator at ${url}`);
}
const worker = runTs('worker', 'services/worker/src/main.ts', shared);
const api = runTs('api', 'services/api/src/main.ts', shared);
await Promise.all([waitForLine(worker, /worker ready/), waitForLine(api, /api listening on/)]);
say(`ready: http://${config.host}:${config.port} — try: curl -s localhost:${config.port}/v1/jobs -H 'content-type: application/json' -d '{"messages":[{"role":"user","content":"Hello"}]}'`);
