import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { Simulator } from '@spool/simulator';
import { startStack, type Stack, type StackOptions } from '../support/stack.js';
import { getJson, postJson } from '../support/http.js';

const dir = mkdtempSync(join(tmpdir(), 'spool-fair-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A stack whose tenants come from a SPOOL_CONFIG file: `alpha` and `beta`, keys `<name>-key-...`. */
async function stackWithTenants(tenants: string, options: StackOptions = {}): Promise<Stack> {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, `tenants:\n${tenants}`);
  return startStack({ ...options, env: { SPOOL_CONFIG: path, ...options.env } });
}

const KEY = { alpha: 'alpha-key-0000000000000000', beta: 'beta-key-00000000000000000' };
const auth = (tenant: keyof typeof KEY) => ({ authorization: `Bearer ${KEY[tenant]}` });

/** Submits `count` requests of `tenant` as one batch; each request's text starts with the tenant's name. */
async function submitBatch(stack: Stack, tenant: keyof typeof KEY, count: number): Promise<string> {
  const requests = Array.from({ length: count }, (_, i) => ({ custom_id: `${i}`, body: { messages: [{ role: 'user', content: `${tenant} ${i}` }], max_tokens: 5 } }));
  const answer = await postJson(`${stack.url}/v1/batches`, { requests }, auth(tenant));
  expect(answer.status).toBe(202);
  return answer.body.id;
}

/** The tenant of each upstream call, in the order the calls came. */
function callsByTenant(simulator: Simulator): string[] {
  const calls: string[] = [];
  simulator.events.on('request', (request: { messages: { content: string }[] }) => calls.push(request.messages.at(-1)!.content.split(' ')[0]));
  return calls;
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const share = (calls: string[], tenant: string) => calls.filter((t) => t === tenant).length / calls.length;

describe('fair share of a 600 RPM upstream', () => {
  it('gives a tenant arriving behind another’s 200-job backlog half of the calls at once (weights 1 and 1)', async () => {
    const stack = await stackWithTenants(`  alpha: {keys: ["${KEY.alpha}"]}\n  beta: {keys: ["${KEY.beta}"]}\n`, { env: { SPOOL_UPSTREAM_RPM: '600' } });
    try {
      const calls = callsByTenant(stack.simulator);
      await submitBatch(stack, 'alpha', 200);
      await until(() => calls.length >= 20);
      const from = calls.length;
      await submitBatch(stack, 'beta', 40);
      await until(() => calls.includes('beta'));
      // at once: behind at most the few jobs already released to the gate, not alpha's backlog
      expect(calls.indexOf('beta') - from).toBeLessThan(20);
      const first = calls.indexOf('beta');
      await until(() => calls.length >= first + 60);
      const after = calls.slice(first, first + 60);
      expect(share(after, 'beta')).toBeGreaterThan(0.4);
      expect(share(after, 'beta')).toBeLessThan(0.6);
    } finally {
      await stack.close();
    }
  }, 60_000);

  it('gives weights 3 and 1 three quarters and a quarter', async () => {
    const stack = await stackWithTenants(`  alpha: {keys: ["${KEY.alpha}"], weight: 3}\n  beta: {keys: ["${KEY.beta}"]}\n`, { env: { SPOOL_UPSTREAM_RPM: '600' } });
    try {
      const calls = callsByTenant(stack.simulator);
      await submitBatch(stack, 'beta', 100);
      await submitBatch(stack, 'alpha', 100);
      await until(() => calls.filter((t) => t === 'alpha').length > 0);
      const from = calls.findIndex((t) => t === 'alpha');
      await until(() => calls.length >= from + 80);
      expect(share(calls.slice(from, from + 80), 'alpha')).toBeGreaterThan(0.65);
      expect(share(calls.slice(from, from + 80), 'alpha')).toBeLessThan(0.85);
    } finally {
      await stack.close();
    }
  }, 60_000);
});

describe('a tenant’s max_concurrency', () => {
  it('holds across two workers while another tenant runs freely, and its queued jobs say so', async () => {
    const stack = await stackWithTenants(`  alpha: {keys: ["${KEY.alpha}"], max_concurrency: 3}\n  beta: {keys: ["${KEY.beta}"]}\n`, {
      workers: 2,
      env: { WORKER_CONCURRENCY: '10' },
      simulator: { ttftMs: 150 },
    });
    try {
      const running = { alpha: 0, beta: 0 } as Record<string, number>;
      const most = { alpha: 0, beta: 0 } as Record<string, number>;
      const tenantOf = new Map<string, string>();
      stack.simulator.events.on('request', (request: { id: string; messages: { content: string }[] }) => {
        const tenant = request.messages.at(-1)!.content.split(' ')[0];
        tenantOf.set(request.id, tenant);
        most[tenant] = Math.max(most[tenant], ++running[tenant]);
      });
      stack.simulator.events.on('completed', ({ id }: { id: string }) => running[tenantOf.get(id)!]--);
      const alphaBatch = await submitBatch(stack, 'alpha', 15);
      const betaBatch = await submitBatch(stack, 'beta', 15);

      const listed = await getJson(`${stack.url}/v1/jobs?batch_id=${alphaBatch}&status=queued&limit=1`, auth('alpha'));
      const queued = await getJson(`${stack.url}/v1/jobs/${listed.body.data[0].id}`, auth('alpha'));
      expect(queued.body.waiting_on).toBe('tenant_concurrency');

      const done = async (id: string, tenant: keyof typeof KEY) => (await getJson(`${stack.url}/v1/batches/${id}`, auth(tenant))).body.status === 'completed';
      await until(async () => (await done(alphaBatch, 'alpha')) && (await done(betaBatch, 'beta')));
      expect(most.alpha).toBe(3);
      expect(most.beta).toBeGreaterThan(3);
    } finally {
      await stack.close();
    }
  }, 60_000);
});

describe('tenants from the file', () => {
  it('knows a key by its key_sha256, and shows each tenant only its own usage and jobs', async () => {
    const digest = createHash('sha256').update(KEY.alpha).digest('hex');
    const stack = await stackWithTenants(`  alpha: {key_sha256: ["${digest.toUpperCase()}"], budget_usd: 3}\n  beta: {keys: ["${KEY.beta}"]}\n`, { workers: 0 });
    try {
      const job = await postJson(`${stack.url}/v1/jobs`, { messages: [{ role: 'user', content: 'alpha' }] }, auth('alpha'));
      expect(job.status).toBe(202);
      expect((await getJson(`${stack.url}/v1/usage`, auth('alpha'))).body).toMatchObject({ object: 'usage', tenant: 'alpha', budget_usd: 3, queued: 1 });
      // the digest is not a key
      expect((await getJson(`${stack.url}/v1/usage`, { authorization: `Bearer ${digest}` })).status).toBe(401);
      expect((await getJson(`${stack.url}/v1/usage`)).status).toBe(401);
      // another tenant asking for alpha's figures gets its own; alpha's job is unknown to it
      expect((await getJson(`${stack.url}/v1/usage?tenant=alpha`, auth('beta'))).body).toMatchObject({ tenant: 'beta', budget_usd: null, queued: 0 });
      expect((await getJson(`${stack.url}/v1/usage/alpha`, auth('beta'))).status).toBe(404);
      expect((await getJson(`${stack.url}/v1/jobs/${job.body.id}`, auth('beta'))).status).toBe(404);
    } finally {
      await stack.close();
    }
  });
});

describe('a tenant’s client_rpm', () => {
  it('is its keys’ API requests per minute, in place of SPOOL_CLIENT_RPM; a tenant without one keeps the default', async () => {
    const stack = await stackWithTenants(`  alpha: {keys: ["${KEY.alpha}"], client_rpm: 2}\n  beta: {keys: ["${KEY.beta}"]}\n`, { workers: 0, env: { SPOOL_CLIENT_RPM: '5' } });
    try {
      const statuses = async (tenant: keyof typeof KEY, count: number) => {
        const answers = [];
        for (let i = 0; i < count; i++) answers.push(await getJson(`${stack.url}/v1/usage`, auth(tenant)));
        return answers;
      };
      const alpha = await statuses('alpha', 3);
      expect(alpha.map((answer) => answer.status)).toEqual([200, 200, 429]);
      expect(alpha[0].headers.get('x-ratelimit-limit-requests')).toBe('2');
      expect(Number(alpha[2].headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      const beta = await statuses('beta', 6);
      expect(beta.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200, 429]);
      expect(beta[0].headers.get('x-ratelimit-limit-requests')).toBe('5');
    } finally {
      await stack.close();
    }
  });
});

describe('a tenant’s tpm', () => {
  it('is charged what a job really used upstream: a job that failed without a reply gives back the estimate it was charged at release', async () => {
    // 6000 tokens a minute: a job's estimate of 60,000 tokens holds the tenant for 10 minutes unless it is given back.
    const stack = await stackWithTenants(`  alpha: {keys: ["${KEY.alpha}"], tpm: 6000}\n`);
    try {
      const refused = await postJson(`${stack.url}/v1/jobs?wait=20`, { messages: [{ role: 'user', content: '[[sim status=400]] alpha refused' }], max_tokens: 60_000 }, auth('alpha'));
      expect(refused.body).toMatchObject({ status: 'failed', error: { code: 'invalid_upstream_request' } });
      const next = await postJson(`${stack.url}/v1/jobs?wait=20`, { messages: [{ role: 'user', content: 'alpha next' }], max_tokens: 5 }, auth('alpha'));
      expect(next.body).toMatchObject({ status: 'succeeded' });
    } finally {
      await stack.close();
    }
  }, 60_000);
});

describe('a tenant’s rpm', () => {
  it('counts every upstream call of its jobs, retries too: the calls a retry makes delay the tenant’s next release', async () => {
    // 12 a minute: one call every 5 s. A job that takes three calls (two 500s, then a reply) owes 15 s.
    const stack = await stackWithTenants(`  alpha: {keys: ["${KEY.alpha}"], rpm: 12}\n`);
    try {
      const before = Date.now();
      const job = await postJson(`${stack.url}/v1/jobs?wait=20`, { messages: [{ role: 'user', content: '[[sim status=500 times=2]] alpha retried' }], max_tokens: 5 }, auth('alpha'));
      expect(job.body).toMatchObject({ status: 'succeeded', attempts: 3 });
      const { redis, keys } = stack.api.deps;
      await vi.waitFor(async () => expect(Number(await redis.hget(keys.tenantSchedule('alpha'), 'next_request'))).toBeGreaterThanOrEqual(before + 15_000 - 1000), { timeout: 5000, interval: 20 });
      const next = await postJson(`${stack.url}/v1/jobs`, { messages: [{ role: 'user', content: 'alpha next' }], max_tokens: 5 }, auth('alpha'));
      expect((await getJson(`${stack.url}/v1/jobs/${next.body.id}`, auth('alpha'))).body.waiting_on).toBe('tenant_rpm');
    } finally {
      await stack.close();
    }
  }, 60_000);
});

describe('waiting_on', () => {
  it('says budget while what the tenant has spent and reserved this month leaves nothing, else capacity', async () => {
    const stack = await stackWithTenants(`  alpha: {keys: ["${KEY.alpha}"], budget_usd: 1}\n`, { workers: 0 });
    try {
      const job = await postJson(`${stack.url}/v1/jobs`, { messages: [{ role: 'user', content: 'waiting' }], max_tokens: 5 }, auth('alpha'));
      expect(job.status).toBe(202);
      const read = async () => (await getJson(`${stack.url}/v1/jobs/${job.body.id}`, auth('alpha'))).body.waiting_on;
      expect(await read()).toBe('capacity'); // no worker runs
      // a submission's long poll that ends with the job still queued says what holds it too
      expect((await postJson(`${stack.url}/v1/jobs?wait=1`, { messages: [{ role: 'user', content: 'waiting too' }], max_tokens: 5 }, auth('alpha'))).body).toMatchObject({ status: 'queued', waiting_on: 'capacity' });
      // Other attempts in flight hold the whole budget in reservations (as budget-reserve.lua records them).
      const month = new Date().toISOString().slice(0, 7);
      await stack.api.deps.redis.hset(stack.api.deps.keys.tenantSpend('alpha', month), 'reserved', 1_000_000_000);
      expect(await read()).toBe('budget');
    } finally {
      await stack.close();
    }
  });
});
