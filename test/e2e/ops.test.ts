import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ConfigSchema, createLogger, loadConfig } from '@spool/config';
import { ApiServer } from '@spool/api';
import { createKeys } from '@spool/queue';
import { deletePrefix, startStack, testConfig, silentLogger, REDIS_URL, type Stack } from '../support/stack.js';
import { getJson, postJson, readEvents } from '../support/http.js';
import { ROOT, startWorkerProcess, type Child } from '../support/processes.js';
import { freePort } from '../../scripts/free-port.js';
import { parseMetrics, total, type Sample } from '../support/metrics-text.js';

async function scrape(url: string): Promise<{ text: string; samples: Sample[]; contentType: string | null }> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  const text = await response.text();
  return { text, samples: parseMetrics(text), contentType: response.headers.get('content-type') };
}

const messages = (content: string) => [{ role: 'user', content }];

/** An API alone (no worker), on its own prefix and a throwaway SQLite store. */
function apiOnly(env: Record<string, string>, logger = silentLogger): { server: ApiServer; cleanup: () => Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'spool-ops-'));
  const server = new ApiServer({ config: testConfig({ SPOOL_STORE_URL: `sqlite:${join(dir, 'spool.db')}`, ...env }), logger });
  const cleanup = async () => {
    rmSync(dir, { recursive: true, force: true });
    await deletePrefix(server.deps.config.prefix);
  };
  return { server, cleanup };
}

describe('metrics after real traffic', () => {
  let stack: Stack;
  beforeAll(async () => {
    // A hash-tagged prefix, as on Redis Cluster: it must work end to end.
    stack = await startStack({ workers: 2, simulator: { tokensPerSecond: 1000, ttftMs: 20 }, env: { SPOOL_PREFIX: `{test-${randomUUID().slice(0, 12)}}` } });
  });
  afterAll(async () => stack?.close());

  it('counts jobs, first tokens, upstream calls, retries, 429 pauses and tokens, summed over two workers', async () => {
    const nonce = randomUUID().slice(0, 8);
    const plain = await Promise.all(
      [1, 2, 3].map((n) => postJson(`${stack.url}/v1/jobs?wait=30`, { messages: messages(`[[sim tokens=12]] metrics ${n} ${nonce}`) })),
    );
    const retried = await postJson(`${stack.url}/v1/jobs?wait=30`, { messages: messages(`[[sim status=503 times=1]] retry ${nonce}`) });
    const limited = await postJson(`${stack.url}/v1/jobs?wait=30`, { messages: messages(`[[sim status=429 times=1 retry_after_ms=200]] pause ${nonce}`) });
    const jobs = [...plain, retried, limited].map((response) => response.body);
    for (const job of jobs) expect(job.status).toBe('succeeded');

    // A worker counts a job once its end is applied (ENDED), a moment after the `done` that ?wait answers on.
    const samples = await vi.waitFor(async () => {
      const read = (await Promise.all(stack.workers.map((worker) => worker.metrics.registry.metrics()))).flatMap(parseMetrics);
      expect(total(read, 'spool_job_duration_seconds_count', { status: 'succeeded' })).toBe(5);
      return read;
    });
    // Each process counts only its own work; the sums over the processes are the fleet's.
    expect(total(samples, 'spool_job_duration_seconds_count')).toBe(5);
    expect(total(samples, 'spool_job_time_to_first_token_seconds_count')).toBe(5);
    expect(total(samples, 'spool_job_duration_seconds_sum')).toBeGreaterThan(0);
    expect(total(samples, 'spool_upstream_requests_total', { status: '200' })).toBe(5);
    expect(total(samples, 'spool_upstream_requests_total', { status: '503' })).toBe(1);
    expect(total(samples, 'spool_upstream_requests_total', { status: '429' })).toBe(1);
    expect(total(samples, 'spool_upstream_request_duration_seconds_count')).toBe(7);
    expect(total(samples, 'spool_job_retries_total', { code: 'upstream_error' })).toBe(1);
    expect(total(samples, 'spool_upstream_rate_limited_total')).toBe(1);
    expect(total(samples, 'spool_upstream_paused_seconds_total')).toBeCloseTo(0.2, 5);
    const completion = jobs.reduce((sum, job) => sum + job.result.usage.completion_tokens, 0);
    const prompt = jobs.reduce((sum, job) => sum + job.result.usage.prompt_tokens, 0);
    const labels = { tenant: 'default', model: 'gpt-4o-mini' };
    expect(total(samples, 'spool_tokens_total', { ...labels, type: 'completion' })).toBe(completion);
    expect(total(samples, 'spool_tokens_total', { ...labels, type: 'prompt' })).toBe(prompt);
    for (const sample of samples) expect(sample.name.startsWith('spool_')).toBe(true);
    expect(samples.find((sample) => sample.name === 'spool_job_duration_seconds_count')?.labels.service).toBe('worker');
  });

  it('serves GET /metrics on the API: HTTP requests by route pattern, queue depth from Redis, SSE watchers', async () => {
    const job = (await postJson(`${stack.url}/v1/jobs?wait=30`, { messages: messages('api metrics') })).body;
    await getJson(`${stack.url}/v1/jobs/${job.id}`);
    await getJson(`${stack.url}/v1/jobs/job_doesnotexist000000000000`);

    const { text, samples, contentType } = await scrape(`${stack.url}/metrics`);
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const sample of samples) expect(sample.name.startsWith('spool_')).toBe(true);
    for (const name of text.matchAll(/^# TYPE (\S+)/gm)) expect(name[1].startsWith('spool_')).toBe(true);
    expect(total(samples, 'spool_http_requests_total', { method: 'POST', route: '/v1/jobs', status: '200' })).toBeGreaterThanOrEqual(1);
    expect(total(samples, 'spool_http_requests_total', { method: 'GET', route: '/v1/jobs/:id', status: '200' })).toBe(1);
    expect(total(samples, 'spool_http_requests_total', { method: 'GET', route: '/v1/jobs/:id', status: '404' })).toBe(1);
    expect(total(samples, 'spool_http_request_duration_seconds_count', { route: '/v1/jobs/:id' })).toBe(2);
    expect(samples.some((sample) => sample.name === 'spool_http_requests_total' && sample.labels.route.includes('job_'))).toBe(false);
    expect(samples.find((sample) => sample.name === 'spool_sse_watchers')).toMatchObject({ value: 0, labels: { service: 'api' } });
    expect(samples.filter((sample) => sample.name === 'spool_queue_jobs' && sample.labels.queue === 'chat').map((sample) => sample.labels.state).sort()).toEqual(
      ['active', 'completed', 'delayed', 'failed', 'prioritized', 'scheduled', 'waiting', 'waiting-children'],
    );
    expect(samples.some((sample) => sample.name === 'spool_process_cpu_user_seconds_total')).toBe(true);
  });

  it('reads queue depth from Redis at scrape time and counts live SSE watchers', async () => {
    await Promise.all(stack.workers.map((worker) => worker.worker.pause()));
    try {
      const queued = await Promise.all([1, 2, 3].map((n) => postJson(`${stack.url}/v1/jobs`, { messages: messages(`held ${n}`) })));
      const watching = new AbortController();
      const watched = readEvents(`${stack.url}${queued[0].body.stream_url}`, { signal: watching.signal, limit: 2 }).catch(() => []);
      await expect.poll(async () => total((await scrape(`${stack.url}/metrics`)).samples, 'spool_sse_watchers')).toBe(1);
      const { samples } = await scrape(`${stack.url}/metrics`);
      // Spool submits every job with a priority, which BullMQ keeps in its prioritized set.
      expect(total(samples, 'spool_queue_jobs', { queue: 'chat', state: 'prioritized' }) + total(samples, 'spool_queue_jobs', { queue: 'chat', state: 'waiting' })).toBe(3);
      watching.abort();
      await watched;
    } finally {
      for (const worker of stack.workers) worker.worker.resume();
    }
    await expect.poll(async () => total((await scrape(`${stack.url}/metrics`)).samples, 'spool_queue_jobs', { state: 'prioritized' }), { timeout: 15_000 }).toBe(0);
    await expect.poll(async () => total((await scrape(`${stack.url}/metrics`)).samples, 'spool_sse_watchers')).toBe(0);
  });
});

describe('a worker process serves its own /metrics on SPOOL_METRICS_PORT', () => {
  let stack: Stack;
  let worker: Child | undefined;
  beforeAll(async () => {
    stack = await startStack({ workers: 0, simulator: { tokensPerSecond: 1000, ttftMs: 0 } });
  });
  afterAll(async () => {
    await worker?.stop('SIGTERM');
    await stack?.close();
  });

  it('counts the jobs that process ran', async () => {
    const port = await freePort();
    worker = await startWorkerProcess({
      REDIS_URL,
      SPOOL_PREFIX: stack.config.prefix,
      OPENAI_BASE_URL: stack.simulatorUrl,
      SPOOL_METRICS_PORT: String(port),
      SPOOL_STORE_URL: stack.config.storeUrl,
    });
    const ready = await worker.waitFor(/worker ready/);
    expect(ready).toContain(`http://127.0.0.1:${port}/metrics`);
    const job = (await postJson(`${stack.url}/v1/jobs?wait=30`, { messages: messages('worker process metrics') })).body;
    expect(job.status).toBe('succeeded');
    // (counted once the job's end is applied, a moment after the `done` that ?wait answers on)
    const samples = await vi.waitFor(async () => {
      const scraped = (await scrape(`http://127.0.0.1:${port}/metrics`)).samples;
      expect(total(scraped, 'spool_job_duration_seconds_count', { status: 'succeeded', service: 'worker' })).toBe(1);
      return scraped;
    });
    expect(total(samples, 'spool_tokens_total', { type: 'completion' })).toBe(job.result.usage.completion_tokens);
    expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
  });
});

describe('/admin/queues', () => {
  const servers: ReturnType<typeof apiOnly>[] = [];
  async function api(env: Record<string, string> = {}): Promise<string> {
    const started = apiOnly(env);
    servers.push(started);
    return started.server.listen(0, '127.0.0.1');
  }
  afterAll(async () => {
    await Promise.all(servers.map(({ server }) => server.close()));
    await Promise.all(servers.map(({ cleanup }) => cleanup()));
  });

  it('answers 404 in the error envelope for every /admin path when SPOOL_ADMIN_KEY is unset', async () => {
    const url = await api();
    for (const path of ['/admin/queues', '/admin/queues/api/queues', '/admin/anything']) {
      const response = await getJson(`${url}${path}`, { authorization: 'Bearer whatever' });
      expect(response.status).toBe(404);
      expect(response.body.error).toMatchObject({ type: 'invalid_request_error', code: 'unknown_url', param: null });
    }
  });

  it('needs the admin key: 401 without it or with a wrong one, the dashboard with it', async () => {
    const key = `admin-${randomUUID()}`;
    const url = await api({ SPOOL_ADMIN_KEY: key });

    const missing = await getJson(`${url}/admin/queues`);
    expect(missing.status).toBe(401);
    expect(missing.body.error).toMatchObject({ type: 'authentication_error', code: 'invalid_admin_key', param: null });
    expect(missing.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    for (const authorization of ['Bearer wrong', `Bearer ${key}x`, `Basic ${Buffer.from(`admin:${key.slice(1)}`).toString('base64')}`]) {
      const wrong = await getJson(`${url}/admin/queues/api/queues`, { authorization });
      expect(wrong.status).toBe(401);
      expect(wrong.body.error.type).toBe('authentication_error');
    }

    const page = await fetch(`${url}/admin/queues`, { headers: { authorization: `Bearer ${key}` } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('Spool queues');
    const queues = await getJson(`${url}/admin/queues/api/queues`, { authorization: `Bearer ${key}` });
    expect(queues.status).toBe(200);
    expect(queues.body.queues.map((queue: { name: string }) => queue.name).sort()).toEqual(['chat', 'webhooks']);
    const basic = await fetch(`${url}/admin/queues`, { headers: { authorization: `Basic ${Buffer.from(`ops:${key}`).toString('base64')}` } });
    expect(basic.status).toBe(200);
  });

  it('accepts ?key= once: an HttpOnly cookie that is not the key, and a redirect that drops it from the URL', async () => {
    const key = `admin-${randomUUID()}`;
    const url = await api({ SPOOL_ADMIN_KEY: key });
    expect((await fetch(`${url}/admin/queues?key=nope`, { redirect: 'manual' })).status).toBe(401);

    const login = await fetch(`${url}/admin/queues?key=${encodeURIComponent(key)}`, { redirect: 'manual' });
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/admin/queues');
    const setCookie = login.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^spool_admin=[^;]+;/);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    expect(setCookie).not.toContain(key);
    const cookie = setCookie.split(';')[0];
    const queues = await getJson(`${url}/admin/queues/api/queues`, { cookie });
    expect(queues.status).toBe(200);
    expect((await getJson(`${url}/admin/queues/api/queues`, { cookie: 'spool_admin=forged' })).status).toBe(401);
  });
});

describe('structured logs', () => {
  it('has request_id (the x-request-id) and job_id on request lines, and never a secret', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    const adminKey = `admin-${randomUUID()}`;
    const apiKey = `sk-${randomUUID()}`;
    const logger = createLogger({ name: 'spool-api', level: 'info', destination });
    const { server, cleanup } = apiOnly({ SPOOL_ADMIN_KEY: adminKey, SPOOL_API_KEYS: `acme:${apiKey}`, LOG_LEVEL: 'info' }, logger);
    const url = await server.listen(0, '127.0.0.1');
    try {
      const submitted = await postJson(`${url}/v1/jobs`, { messages: messages('log me') }, { authorization: `Bearer ${apiKey}`, 'x-request-id': 'req-ops-1' });
      expect(submitted.status).toBe(202);
      await getJson(`${url}/v1/jobs/${submitted.body.id}`, { authorization: `Bearer ${apiKey}`, 'x-request-id': 'req-ops-2' });
      await fetch(`${url}/admin/queues?key=${adminKey}`, { redirect: 'manual', headers: { 'x-request-id': 'req-ops-3' } });
      await getJson(`${url}/v1/jobs`, { authorization: 'Bearer sk-wrong-key', 'x-request-id': 'req-ops-4' });

      await expect.poll(() => lines.filter((line) => line.includes('req-ops-4')).length).toBe(1);
      const records = lines.map((line) => JSON.parse(line));
      const byRequest = (id: string) => records.find((record) => record.request_id === id);
      expect(byRequest('req-ops-1')).toMatchObject({ job_id: submitted.body.id, req: { method: 'POST', url: '/v1/jobs' }, res: { status_code: 202 } });
      expect(byRequest('req-ops-2')).toMatchObject({ job_id: submitted.body.id, res: { status_code: 200 } });
      expect(byRequest('req-ops-3')).toMatchObject({ req: { url: '/admin/queues?key=[redacted]' }, res: { status_code: 303 } });
      expect(byRequest('req-ops-4')).toMatchObject({ res: { status_code: 401 } });
      const all = lines.join('\n');
      expect(all).not.toContain(apiKey);
      expect(all).not.toContain(adminKey);
      expect(all).not.toContain('sk-wrong-key');
      expect(all).not.toMatch(/spool_admin=/);
    } finally {
      await server.close();
      await cleanup();
    }
  });
});

describe('configuration for operations', () => {
  it('SPOOL_METRICS_PORT defaults to 9464 and 0 turns it off; SPOOL_LOG_PRETTY is unset, on or off', () => {
    expect(loadConfig({}).metricsPort).toBe(9464);
    expect(loadConfig({ SPOOL_METRICS_PORT: '0' }).metricsPort).toBe(0);
    expect(() => loadConfig({ SPOOL_METRICS_PORT: '70000' })).toThrow(/SPOOL_METRICS_PORT/);
    expect(loadConfig({}).logPretty).toBeUndefined();
    expect(loadConfig({ SPOOL_LOG_PRETTY: '1' }).logPretty).toBe(true);
    expect(loadConfig({ SPOOL_LOG_PRETTY: 'false' }).logPretty).toBe(false);
  });

  it('accepts a Redis Cluster hash-tag prefix and builds every key under it', () => {
    const config = loadConfig({ SPOOL_PREFIX: '{spool}' });
    expect(config.prefix).toBe('{spool}');
    const keys = createKeys(config.prefix) as unknown as Record<string, unknown>;
    const builders = Object.values(keys).filter((value) => typeof value === 'function') as ((...args: string[]) => string)[];
    expect(builders.length).toBeGreaterThan(5);
    for (const build of builders) expect(build('job_x', 'y')).toMatch(/^\{spool\}:/);
  });
});

describe('deployment files', () => {
  const compose = parseYaml(readFileSync(resolve(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true });
  const dockerfile = readFileSync(resolve(ROOT, 'Dockerfile'), 'utf8');
  const configVariables = new Set(Object.keys(ConfigSchema.shape));

  /** A service's environment with `${NAME:-default}` as Compose fills it when NAME is unset. */
  function environment(service: string): Record<string, string> {
    const raw = compose.services[service].environment ?? {};
    const entries: [string, unknown][] = Array.isArray(raw) ? raw.map((entry: string) => entry.split(/=(.*)/s, 2) as [string, string]) : Object.entries(raw);
    return Object.fromEntries(entries.map(([name, value]) => [name, String(value ?? '').replace(/\$\{\w+(?::?-([^}]*))?\}/g, (_, fallback) => fallback ?? '')]));
  }

  it('runs Redis with AOF on and noeviction, PostgreSQL, the API, several workers and an optional simulator', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['api', 'postgres', 'redis', 'simulator', 'worker']);
    const redis = [compose.services.redis.command].flat().join(' ');
    expect(redis).toMatch(/--appendonly yes/);
    expect(redis).toMatch(/--maxmemory-policy noeviction/);
    expect(compose.services.worker.deploy.replicas).toBeGreaterThanOrEqual(2);
    expect(compose.services.worker.ports).toBeUndefined(); // replicas cannot share a host port
    expect(environment('worker').SPOOL_METRICS_PORT).toBe('9464');
    expect(compose.services.simulator.profiles).toEqual(['simulator']);
    expect(compose.services.postgres.image).toMatch(/^postgres:/);
    // The API listens on the container's interfaces (published on the host's loopback); a worker's
    // /metrics, which labels tenants, stays on the container's loopback.
    for (const [service, host] of [['api', '0.0.0.0'], ['worker', '127.0.0.1']]) {
      const env = environment(service);
      expect(env.SPOOL_STORE_URL).toBe('postgres://spool:spool@postgres:5432/spool');
      expect(env.REDIS_URL).toBe('redis://redis:6379');
      expect(loadConfig(env)).toMatchObject({ prefix: '{spool}', host, storeUrl: env.SPOOL_STORE_URL });
    }
    expect(compose.services.api.ports).toEqual(['${SPOOL_BIND:-127.0.0.1}:${SPOOL_PORT:-3000}:3000']);
  });

  it('sets only variables the config schema (or the simulator) knows', () => {
    for (const service of ['api', 'worker']) {
      for (const name of Object.keys(environment(service))) expect(configVariables, `${service}: ${name}`).toContain(name);
    }
    for (const name of Object.keys(environment('simulator'))) expect(name).toMatch(/^SIMULATOR_(PORT|HOST|TTFT_MS|TOKENS_PER_SECOND|RPM|TPM)$/);
  });

  it('builds a multi-stage, non-root image that installs with npm ci --omit=dev and runs through tsx', () => {
    expect(dockerfile.match(/^FROM /gm)!.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^USER (?!root)\S+/m);
    expect(dockerfile).toMatch(/--import", "tsx"|--import tsx/);
    const runtime = ['api', 'worker'].map((name) => JSON.parse(readFileSync(resolve(ROOT, `services/${name}/package.json`), 'utf8')));
    for (const pkg of runtime) expect(Object.keys(pkg.dependencies)).toContain('tsx');
  });
});
