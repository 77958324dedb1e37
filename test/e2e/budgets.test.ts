/**
 * Issue 14, spend and budgets (API.md §12): `cost_usd`, budgets reserved and settled in Redis,
 * the 429 once a budget is spent, `/v1/usage`, `/admin/tenants`, the tenant metrics, and spend
 * kept in the store. One stack, each test on tenants of its own.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Redis } from 'ioredis';
import { countPromptTokens as simulatorPromptTokens, messageText, type ChatMessage } from '@spool/simulator';
import { countPromptTokens, countTokens } from '@spool/llm';
import { createKeys } from '@spool/queue';
import { REDIS_URL, useStack } from '../support/stack.js';
import { getJson, postJson, readEvents } from '../support/http.js';

const MAX_TOKENS = 20;
/** `metered`: prompts free, $2 per million completion tokens; a reply that fills MAX_TOKENS costs exactly this */
const JOB_COST = (MAX_TOKENS * 2) / 1e6;
const ADMIN_KEY = 'admin-key-for-budgets';
const TENANTS = ['alpha', 'delta', 'beta', 'zeta', 'epsilon', 'omega'] as const;
type Tenant = (typeof TENANTS)[number];
const BUDGETS: Partial<Record<Tenant, number>> = { alpha: 5 * JOB_COST, delta: JOB_COST, epsilon: 2 * JOB_COST };

const dir = mkdtempSync(join(tmpdir(), 'spool-budgets-'));
const configPath = join(dir, 'spool.yaml');
writeFileSync(
  configPath,
  [
    'tenants:',
    ...TENANTS.flatMap((tenant) => [`  ${tenant}:`, `    keys: ["key-${tenant}"]`, ...(BUDGETS[tenant] === undefined ? [] : [`    budget_usd: ${BUDGETS[tenant]}`])]),
    'models:',
    '  metered: { input_usd_per_mtok: 0, output_usd_per_mtok: 2 }',
    '  priced: { input_usd_per_mtok: 1.5, output_usd_per_mtok: 4 }',
  ].join('\n'),
);

const auth = (tenant: Tenant) => ({ authorization: `Bearer key-${tenant}` });
const month = () => new Date().toISOString().slice(0, 7);
const secondsUntilMonthEnds = () => {
  const now = new Date();
  return (Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1) - now.getTime()) / 1000;
};
/** A reply of more tokens than MAX_TOKENS: cut there, at `length`, so every call costs the same. */
const filling = (text: string) => ({ model: 'metered', max_tokens: MAX_TOKENS, messages: [{ role: 'user', content: `[[sim tokens=${MAX_TOKENS * 3}]] ${text}` }] });

describe('spend and budgets', () => {
  const stack = useStack({ env: { SPOOL_CONFIG: configPath, SPOOL_ADMIN_KEY: ADMIN_KEY }, simulator: { tokensPerSecond: 60 } });
  const seen: ChatMessage[][] = [];
  let listening = false;
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Upstream calls the simulator got whose messages contain `text`. */
  function callsWith(text: string): ChatMessage[][] {
    if (!listening) {
      stack.simulator.events.on('request', (event: { messages: ChatMessage[] }) => seen.push(event.messages));
      listening = true;
    }
    return seen.filter((messages) => messages.some((message) => messageText(message).includes(text)));
  }

  const usageOf = async (tenant: Tenant) => (await getJson(`${stack.url}/v1/usage`, auth(tenant))).body;

  it('15 jobs at once against a budget that pays for exactly 5: five succeed, ten fail budget_exceeded and never reach upstream', async () => {
    const nonce = randomUUID();
    callsWith(nonce);
    const submitted = await Promise.all(Array.from({ length: 15 }, (_, index) => postJson(`${stack.url}/v1/jobs`, filling(`${nonce} job ${index}`), auth('alpha'))));
    for (const response of submitted) expect(response.status).toBe(202);
    const ended = await Promise.all(submitted.map(async ({ body }) => JSON.parse((await readEvents(`${stack.url}${body.stream_url}`, { headers: auth('alpha') })).at(-1)!.data)));

    const succeeded = ended.filter((job) => job.status === 'succeeded');
    const failed = ended.filter((job) => job.status === 'failed');
    expect(succeeded).toHaveLength(5);
    expect(failed).toHaveLength(10);
    for (const job of succeeded) {
      expect(job.result).toMatchObject({ finish_reason: 'length', usage: { completion_tokens: MAX_TOKENS } });
      expect(job.cost_usd).toBeCloseTo(JOB_COST, 12);
    }
    for (const job of failed) {
      expect(job).toMatchObject({ error: { code: 'budget_exceeded' }, partial: null, attempts: 1, cost_usd: 0 });
    }
    expect(callsWith(nonce)).toHaveLength(5);

    const usage = await usageOf('alpha');
    expect(usage).toMatchObject({ object: 'usage', tenant: 'alpha', budget_usd: 5 * JOB_COST, reserved_usd: 0, requests: 5, running: 0, queued: 0 });
    expect(usage.spend_usd).toBeCloseTo(5 * JOB_COST, 12);
    expect(usage.tokens).toEqual({ prompt: succeeded.reduce((sum, job) => sum + job.result.usage.prompt_tokens, 0), completion: 5 * MAX_TOKENS });
  }, 60_000);

  it('once the budget is spent, POST /v1/jobs, /v1/batches and /v1/chat/completions answer 429 budget_exceeded until the month ends; other tenants go on', async () => {
    const nonce = randomUUID();
    // A call whose worst case the budget cannot pay fails in the worker; the OpenAI door answers it as the 429 it is.
    const tooLong = await postJson(`${stack.url}/v1/chat/completions`, { ...filling(`${nonce} too long`), max_tokens: 2 * MAX_TOKENS }, auth('delta'));
    expect(tooLong.status).toBe(429);
    expect(tooLong.body.error).toMatchObject({ type: 'rate_limit_error', code: 'budget_exceeded' });
    expect(tooLong.headers.get('x-should-retry')).toBe('false');
    expect(Number(tooLong.headers.get('retry-after'))).toBeGreaterThan(0);

    const spending = await postJson(`${stack.url}/v1/jobs?wait=30`, filling(`${nonce} spends it all`), auth('delta'));
    expect(spending.body).toMatchObject({ status: 'succeeded' });
    expect(spending.body.cost_usd).toBeCloseTo(JOB_COST, 12);

    const refusals = [
      await postJson(`${stack.url}/v1/jobs`, filling(`${nonce} one more`), auth('delta')),
      await postJson(`${stack.url}/v1/batches`, { requests: [{ custom_id: 'a', body: filling(`${nonce} batched`) }] }, auth('delta')),
      await postJson(`${stack.url}/v1/chat/completions`, filling(`${nonce} door`), auth('delta')),
      await postJson(`${stack.url}/v1/chat/completions`, { ...filling(`${nonce} streamed door`), stream: true }, auth('delta')),
    ];
    for (const refusal of refusals) {
      expect(refusal.status).toBe(429);
      expect(refusal.body.error).toEqual({ type: 'rate_limit_error', code: 'budget_exceeded', message: expect.stringContaining('budget'), param: null });
      const retryAfter = Number(refusal.headers.get('retry-after'));
      expect(Number.isInteger(retryAfter)).toBe(true);
      expect(Math.abs(retryAfter - secondsUntilMonthEnds())).toBeLessThan(10);
    }
    expect(callsWith(nonce)).toHaveLength(1);
    // Nothing made by the refusals: the two jobs are the door's refused one and the one that spent the budget.
    expect((await getJson(`${stack.url}/v1/jobs?limit=100`, auth('delta'))).body.data).toHaveLength(2);
    expect((await postJson(`${stack.url}/v1/jobs?wait=30`, filling(`${nonce} another tenant`), auth('zeta'))).body.status).toBe('succeeded');
  }, 60_000);

  it('counts every attempt that reached upstream: a broken stream’s prompt and streamed text, with the tokenizer, and the retry’s usage', async () => {
    const nonce = randomUUID();
    const content = `[[sim tokens=40 break=12 times=1]] ${nonce}`;
    const job = (await postJson(`${stack.url}/v1/jobs?wait=30`, { model: 'priced', messages: [{ role: 'user', content }] }, auth('zeta'))).body;
    expect(job).toMatchObject({ status: 'succeeded', attempts: 2 });
    const events = await readEvents(`${stack.url}${job.stream_url}`, { headers: auth('zeta') });
    const secondRunning = events.findIndex((event) => event.event === 'status' && JSON.parse(event.data).attempt === 2);
    const broken = events.slice(0, secondRunning).filter((event) => event.event === 'delta').map((event) => JSON.parse(event.data).content).join('');
    expect(broken.length).toBeGreaterThan(0);
    const [first, retry] = callsWith(nonce);
    const brokenCost = countPromptTokens(first as never) * 1.5 + countTokens(broken) * 4;
    // The retry continues after the broken text; upstream reports its usage, the prompt holding that text.
    const retryCost = simulatorPromptTokens(retry) * 1.5 + (job.result.usage.completion_tokens - countTokens(broken)) * 4;
    expect(job.cost_usd).toBeCloseTo((brokenCost + retryCost) / 1e6, 12);
  }, 60_000);

  it('GET /v1/usage and /admin/tenants: this month’s spend, budget, reservations, calls, tokens and jobs, for the caller or every tenant; and the tenant metrics', async () => {
    const jobs = await Promise.all(
      [1, 2].map(async (index) => (await postJson(`${stack.url}/v1/jobs?wait=30`, { model: 'priced', messages: [{ role: 'user', content: `usage ${index} ${randomUUID()}` }] }, auth('beta'))).body),
    );
    for (const job of jobs) {
      expect(job.status).toBe('succeeded');
      expect(job.cost_usd).toBeCloseTo((job.result.usage.prompt_tokens * 1.5 + job.result.usage.completion_tokens * 4) / 1e6, 12);
    }
    // The fair scheduler's sets, as it fills them: a job waiting and one released for omega.
    const redis = new Redis(REDIS_URL);
    const keys = createKeys(stack.config.prefix);
    await redis.zadd(keys.tenantWaiting('omega'), 1, 'job_waiting_for_a_test');
    await redis.zadd(keys.tenantRunning('omega'), 1, 'job_running_for_a_test', 2, 'job_running_for_a_test_too');

    try {
      const [year, index] = month().split('-').map(Number);
      const beta = await usageOf('beta');
      expect(beta).toEqual({
        object: 'usage',
        tenant: 'beta',
        period_start: Date.UTC(year, index - 1, 1) / 1000,
        spend_usd: expect.closeTo(jobs[0].cost_usd + jobs[1].cost_usd, 12),
        budget_usd: null,
        reserved_usd: 0,
        requests: 2,
        tokens: { prompt: jobs[0].result.usage.prompt_tokens + jobs[1].result.usage.prompt_tokens, completion: jobs[0].result.usage.completion_tokens + jobs[1].result.usage.completion_tokens },
        running: 0,
        queued: 0,
      });
      expect(await usageOf('omega')).toMatchObject({ spend_usd: 0, budget_usd: null, requests: 0, tokens: { prompt: 0, completion: 0 }, running: 2, queued: 1 });

      expect((await getJson(`${stack.url}/admin/tenants`)).status).toBe(401);
      expect((await getJson(`${stack.url}/admin/tenants`, auth('beta'))).status).toBe(401);
      const listed = await getJson(`${stack.url}/admin/tenants`, { authorization: `Bearer ${ADMIN_KEY}` });
      expect(listed.status).toBe(200);
      expect(listed.body.object).toBe('list');
      expect(listed.body.data.map((entry: { tenant: string }) => entry.tenant)).toEqual(TENANTS);
      for (const entry of listed.body.data) expect(entry.budget_usd).toBe(BUDGETS[entry.tenant as Tenant] ?? null);
      expect(listed.body.data.find((entry: { tenant: string }) => entry.tenant === 'beta')).toEqual(beta);

      const metrics = (await (await fetch(`${stack.url}/metrics`)).text()).split('\n');
      const sample = (name: string, labels: string[]) => {
        const line = metrics.find((text) => text.startsWith(`${name}{`) && labels.every((label) => text.includes(label)));
        return line === undefined ? undefined : Number(line.split(' ').at(-1));
      };
      expect(metrics).toContain('# TYPE spool_tenant_spend_usd_total counter');
      expect(sample('spool_tenant_spend_usd_total', ['tenant="beta"'])).toBeCloseTo(beta.spend_usd, 12);
      expect(sample('spool_tenant_spend_usd_total', ['tenant="omega"'])).toBe(0);
      expect(sample('spool_tenant_jobs', ['tenant="omega"', 'state="queued"'])).toBe(1);
      expect(sample('spool_tenant_jobs', ['tenant="omega"', 'state="running"'])).toBe(2);
      expect(sample('spool_tenant_jobs', ['tenant="beta"', 'state="running"'])).toBe(0);
    } finally {
      await redis.del(keys.tenantWaiting('omega'), keys.tenantRunning('omega'));
      await redis.quit();
    }
  }, 60_000);

  it('keeps spend in the store: a month Redis lost is read from it, and the budget still holds', async () => {
    const nonce = randomUUID();
    for (const index of [1, 2]) expect((await postJson(`${stack.url}/v1/jobs?wait=30`, filling(`${nonce} ${index}`), auth('epsilon'))).body.status).toBe('succeeded');
    const spent = 2 * JOB_COST * 1e9;
    await vi.waitFor(async () => expect(await stack.store.spend('epsilon', month())).toEqual({ costNanoUsd: spent, requests: 2, promptTokens: expect.any(Number), completionTokens: 2 * MAX_TOKENS }), {
      timeout: 10_000,
      interval: 50,
    });

    // Redis loses the month's spend.
    const redis = new Redis(REDIS_URL);
    const spendKey = createKeys(stack.config.prefix).tenantSpend('epsilon', month());
    try {
      await redis.del(spendKey);
      expect((await usageOf('epsilon')).spend_usd).toBeCloseTo(2 * JOB_COST, 12);
      // The API's check finds no spend in Redis and lets the job in; the worker seeds the month from the store first.
      const job = (await postJson(`${stack.url}/v1/jobs?wait=30`, filling(`${nonce} after the loss`), auth('epsilon'))).body;
      expect(job).toMatchObject({ status: 'failed', error: { code: 'budget_exceeded' } });
      expect(callsWith(nonce)).toHaveLength(2);
      expect(await redis.hget(spendKey, 'spent')).toBe(String(spent));
      expect((await postJson(`${stack.url}/v1/jobs`, filling(`${nonce} refused at once`), auth('epsilon'))).status).toBe(429);
    } finally {
      await redis.quit();
    }
  }, 60_000);
});
