import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import pino from 'pino';
import type { ModelSettings, TenantSettings } from '@spool/config';
import type { UpstreamRequest } from '@spool/contracts';
import { countPromptTokens, countTokens } from '@spool/llm';
import { createKeys } from '@spool/queue';
import { JobRepository, readTenantSpend, spendMonth } from '@spool/jobs';
import { encodeEvent, EventLog } from '@spool/stream';
import { SqliteStore } from '@spool/store';
import { tempSqliteFile } from '../../../packages/store/src/test-support.js';
import { Budget, worstCaseTokens, type Reservation } from './budget.js';
import { BudgetExceededError } from './errors.js';
import { JobSpend } from './job-spend.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** $1 per million prompt tokens, $2 per million completion tokens: 1,000 and 2,000 nano-USD a token. */
const models = new Map<string, ModelSettings>([['priced', { inputUsdPerMtok: 1, outputUsdPerMtok: 2, fallbacks: [], batchDiscount: 0.5, contextTokens: 1000 }]]);
const request: UpstreamRequest = { model: 'priced', messages: [{ role: 'user', content: 'hi' }], max_tokens: 100 };
const promptTokens = countPromptTokens(request.messages);
/** the worst case of `request`: its prompt and 100 completion tokens */
const worstCase = promptTokens * 1000 + 100 * 2000;
const usd = (nanoUsd: number) => nanoUsd / 1e9;

describe('Budget on real Redis', () => {
  const prefix = `test-${randomUUID().slice(0, 12)}`;
  const keys = createKeys(prefix);
  const file = tempSqliteFile();
  let redis: Redis;
  let other: Redis;
  let store: SqliteStore;
  let jobs: JobRepository;

  beforeAll(() => {
    redis = new Redis(REDIS_URL);
    other = new Redis(REDIS_URL);
    store = new SqliteStore({ path: file.path });
    jobs = new JobRepository(redis, keys);
  });
  afterAll(async () => {
    const found = await redis.keys(`${prefix}:*`);
    if (found.length) await redis.unlink(...found);
    await Promise.all([redis.quit(), other.quit(), store.close()]);
    file.remove();
  });

  /** A budget as one worker process has it; `connection` picks which Redis connection (two: two workers). */
  function budgetFor(tenants: Record<string, number | undefined>, connection = redis): Budget {
    const settings = new Map<string, TenantSettings>(Object.entries(tenants).map(([tenant, budgetUsd]) => [tenant, { keyHashes: [], weight: 1, budgetUsd }]));
    return new Budget(connection, keys, { tenants: settings, models, store, log: new EventLog(connection, keys), logger: pino({ level: 'silent' }) });
  }

  const spendOf = (tenant: string) => readTenantSpend(redis, keys, tenant);
  const newTenant = () => `t${randomUUID().slice(0, 8)}`;

  /** A running job of `tenant` and its attempt's owner token, as START leaves it. */
  async function runningJob(tenant: string): Promise<{ id: string; owner: string; eventCount: number }> {
    const id = `job_${randomUUID().replaceAll('-', '')}`;
    await jobs.create({ id, tenant, request, priority: 5, metadata: {}, onInterrupt: 'continue' });
    const owner = randomUUID();
    const started = await jobs.start(id, owner);
    if (started.state !== 'started') throw new Error('not started');
    return { id, owner, eventCount: started.eventCount };
  }

  it('prices the worst case at the limit asked for, else the rest of the model’s window', () => {
    expect(worstCaseTokens(request, 7, models)).toEqual({ prompt_tokens: 7, completion_tokens: 100 });
    expect(worstCaseTokens({ ...request, max_tokens: 5, max_completion_tokens: 50 }, 7, models)).toEqual({ prompt_tokens: 7, completion_tokens: 50 });
    expect(worstCaseTokens({ model: 'priced', messages: request.messages }, 7, models)).toEqual({ prompt_tokens: 7, completion_tokens: 993 });
    expect(worstCaseTokens({ model: 'gpt-4o-mini', messages: request.messages }, 7, models).completion_tokens).toBe(128_000 - 7);
  });

  it('lets exactly what the budget pays for through, among 40 attempts at once from two workers, and settles each once to its real cost', async () => {
    const tenant = newTenant();
    const budgets = [budgetFor({ [tenant]: usd(5 * worstCase) }), budgetFor({ [tenant]: usd(5 * worstCase) }, other)];
    const jobIds = Array.from({ length: 40 }, () => `job_${randomUUID().replaceAll('-', '')}`);
    const outcomes = await Promise.allSettled(jobIds.map((jobId, index) => budgets[index % 2].reserve(jobId, tenant, request, promptTokens, 2)));
    const reserved = outcomes.filter((outcome): outcome is PromiseFulfilledResult<Reservation> => outcome.status === 'fulfilled').map((outcome) => outcome.value);
    const refused = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(reserved).toHaveLength(5);
    expect(refused).toHaveLength(35);
    for (const outcome of refused) expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(BudgetExceededError);
    expect(await spendOf(tenant)).toMatchObject({ spentNanoUsd: 0, reservedNanoUsd: 5 * worstCase });

    const real = { prompt_tokens: promptTokens, completion_tokens: 40 };
    const realCost = promptTokens * 1000 + 40 * 2000;
    // Each settled twice at once (a worker and the job-ended outbox racing): counted once.
    await Promise.all(reserved.flatMap((reservation) => [0, 1].map((index) => budgets[index].settle(reservation, { reached: true, tokens: real }))));
    expect(await spendOf(tenant)).toEqual({ spentNanoUsd: 5 * realCost, reservedNanoUsd: 0, requests: 5, promptTokens: 5 * promptTokens, completionTokens: 200 });

    // What the real costs left free goes to the next attempts, and no further.
    const room = Math.floor((5 * worstCase - 5 * realCost) / worstCase);
    const next = await Promise.allSettled(jobIds.slice(0, 10).map((jobId) => budgets[0].reserve(`${jobId}x`, tenant, request, promptTokens, 2)));
    expect(next.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(room);
    const after = (await spendOf(tenant))!;
    expect(after.spentNanoUsd + after.reservedNanoUsd).toBeLessThanOrEqual(5 * worstCase);
  });

  it('adds each settled call to the job’s own cost and counts', async () => {
    const tenant = newTenant();
    const budget = budgetFor({ [tenant]: undefined });
    const { id } = await runningJob(tenant);
    const first = await budget.reserve(id, tenant, request, promptTokens, 2);
    expect(await budget.settle(first, { reached: true, tokens: null })).toMatchObject({ cost_nusd: '0', billed_requests: '1', cost_month: spendMonth() });
    const second = await budget.reserve(id, tenant, request, promptTokens, 4);
    const fields = await budget.settle(second, { reached: true, tokens: { prompt_tokens: 10, completion_tokens: 5 } });
    expect(fields).toEqual({ cost_nusd: '20000', billed_requests: '2', billed_prompt_tokens: '10', billed_completion_tokens: '5', cost_month: spendMonth() });
    expect(await budget.settle(second, { reached: true, tokens: { prompt_tokens: 10, completion_tokens: 5 } })).toEqual({});
    expect(await redis.hget(keys.job(id), 'cost_nusd')).toBe('20000');
  });

  it('counts the calls and tokens of a model without prices (a reservation of nothing)', async () => {
    const tenant = newTenant();
    const budget = budgetFor({});
    const unpriced = { ...request, model: 'a-model-with-no-prices' };
    const reservation = await budget.reserve('job_unpriced', tenant, unpriced, promptTokens, 2);
    expect((await spendOf(tenant))!.reservedNanoUsd).toBe(0);
    await budget.settle(reservation, { reached: true, tokens: { prompt_tokens: 3, completion_tokens: 1 } });
    expect(await spendOf(tenant)).toMatchObject({ spentNanoUsd: 0, reservedNanoUsd: 0, requests: 1, promptTokens: 3, completionTokens: 1 });
  });

  it('never refuses a tenant without a budget, and still counts its spend', async () => {
    const tenant = newTenant();
    const budget = budgetFor({});
    const huge = { ...request, max_tokens: 100_000_000 };
    const reservation = await budget.reserve('job_nobudget', tenant, huge, promptTokens, 2);
    expect((await spendOf(tenant))!.reservedNanoUsd).toBe(promptTokens * 1000 + 100_000_000 * 2000);
    await budget.settle(reservation, { reached: true, tokens: { prompt_tokens: 3, completion_tokens: 1 } });
    expect(await spendOf(tenant)).toMatchObject({ spentNanoUsd: 5000, reservedNanoUsd: 0, requests: 1 });
  });

  it('settles a dead worker’s reservation from the text its attempt streamed when the job is taken over', async () => {
    const tenant = newTenant();
    const budget = budgetFor({ [tenant]: usd(3 * worstCase) });
    const { id, owner, eventCount } = await runningJob(tenant);
    await budget.reserve(id, tenant, request, promptTokens, eventCount);
    const text = 'Hello there, general reader';
    await jobs.append(id, owner, [encodeEvent('delta', { content: 'Hello there, ' }), encodeEvent('delta', { content: 'general reader' })]);
    // The worker dies here; another takes the job over: START, then its own reservation.
    await jobs.requeue(id, owner, 1);
    const takeover = await jobs.start(id, randomUUID());
    if (takeover.state !== 'started') throw new Error('not started');
    await jobs.append(id, (await redis.hget(keys.job(id), 'owner'))!, [encodeEvent('delta', { content: ' and more' })]);
    const next = await budget.reserve(id, tenant, request, promptTokens, takeover.eventCount);
    const deadCost = promptTokens * 1000 + countTokens(text) * 2000;
    expect(await spendOf(tenant)).toMatchObject({ spentNanoUsd: deadCost, reservedNanoUsd: worstCase, requests: 1, completionTokens: countTokens(text) });
    expect(await redis.hget(keys.job(id), 'cost_nusd')).toBe(String(deadCost));
    // The dead worker's own settlement, should it come back, changes nothing.
    await budget.settle({ ...next, token: 'the dead one' }, { reached: true, tokens: { prompt_tokens: 1000, completion_tokens: 1000 } });
    expect((await spendOf(tenant))!.spentNanoUsd).toBe(deadCost);
    // Once the job ends, a reservation still held is settled from the log too (nothing streamed since: free).
    await budget.settleLeftover(id);
    await budget.settleLeftover(id);
    expect(await spendOf(tenant)).toMatchObject({ spentNanoUsd: deadCost + (promptTokens * 1000 + countTokens(' and more') * 2000), reservedNanoUsd: 0 });
  });

  it('counts a worker’s call once, even when its own settlement comes back after its job was taken over and the takeover’s call was settled', async () => {
    const tenant = newTenant();
    const budget = budgetFor({ [tenant]: usd(3 * worstCase) });
    const { id, owner, eventCount } = await runningJob(tenant);
    const stalled = await budget.reserve(id, tenant, request, promptTokens, eventCount);
    await jobs.append(id, owner, [encodeEvent('delta', { content: 'Hello' })]);
    // Its lock lapses (the worker stalled, still alive); another worker takes the job over and settles what it left.
    await jobs.requeue(id, owner, 1);
    const takeover = await jobs.start(id, randomUUID());
    if (takeover.state !== 'started') throw new Error('not started');
    const next = await budget.reserve(id, tenant, request, promptTokens, takeover.eventCount);
    await budget.settle(next, { reached: true, tokens: { prompt_tokens: 10, completion_tokens: 5 } });
    const cost = await redis.hget(keys.job(id), 'cost_nusd');
    const spend = await spendOf(tenant);
    expect(spend).toMatchObject({ requests: 2, reservedNanoUsd: 0 });
    // The stalled worker's call ends at last: it was counted already (from its text), so nothing changes.
    expect(await budget.settle(stalled, { reached: true, tokens: { prompt_tokens: 1000, completion_tokens: 1000 } })).toEqual({});
    expect(await redis.hget(keys.job(id), 'cost_nusd')).toBe(cost);
    expect(await redis.hget(keys.job(id), 'billed_requests')).toBe('2');
    expect(await spendOf(tenant)).toEqual(spend);
  });

  it('starts a month Redis has no spend for from the store, and refuses what that spend leaves no room for', async () => {
    const tenant = newTenant();
    await store.recordSpend({ tenant, jobId: 'job_before_loss', month: spendMonth(), costNanoUsd: 2 * worstCase, requests: 2, promptTokens: 14, completionTokens: 200 });
    const budget = budgetFor({ [tenant]: usd(3 * worstCase) });
    expect(await spendOf(tenant)).toBeNull();
    await budget.reserve('job_a', tenant, request, promptTokens, 2);
    expect(await spendOf(tenant)).toEqual({ spentNanoUsd: 2 * worstCase, reservedNanoUsd: worstCase, requests: 2, promptTokens: 14, completionTokens: 200 });
    await expect(budget.reserve('job_b', tenant, request, promptTokens, 2)).rejects.toBeInstanceOf(BudgetExceededError);
    const ttl = await redis.ttl(keys.tenantSpend(tenant, spendMonth()));
    expect(ttl).toBeGreaterThan(40 * 24 * 3600);
  });

  it('answers the reserve script’s guards: no month yet, refused, held by this attempt, held by an earlier one', async () => {
    const tenant = newTenant();
    const spendKey = keys.tenantSpend(tenant, spendMonth());
    const reservationKey = keys.budgetReservation('job_guards');
    budgetFor({});
    const reserve = (token: string, amount: number, budget: number | '') =>
      (redis as unknown as { spoolBudgetReserve(...args: (string | number)[]): Promise<number> }).spoolBudgetReserve(spendKey, reservationKey, token, amount, budget, 'tenant', tenant);
    expect(await reserve('a', 10, 100)).toBe(-2);
    await redis.hset(spendKey, 'spent', 60, 'reserved', 0);
    expect(await reserve('a', 41, 100)).toBe(0);
    expect(await redis.exists(reservationKey)).toBe(0);
    expect(await reserve('a', 40, 100)).toBe(1);
    expect(await reserve('a', 40, 100)).toBe(1);
    expect(await redis.hget(spendKey, 'reserved')).toBe('40');
    expect(await reserve('b', 1, '')).toBe(-1);
    expect(await redis.hgetall(reservationKey)).toMatchObject({ token: 'a', amount: '40', tenant });
  });

  it('meters a call: refused before it runs, settled from upstream’s usage, or from the text a broken stream sent', async () => {
    const tenant = newTenant();
    const budget = budgetFor({ [tenant]: usd(worstCase + 50_000) });
    const { id } = await runningJob(tenant);
    const spend = new JobSpend(budget, id, tenant);
    const seen: string[] = [];
    await expect(
      spend.call(request, (text) => seen.push(text), async (onDelta) => {
        onDelta('broken ');
        onDelta('off');
        throw new Error('socket hang up');
      }),
    ).rejects.toThrow('socket hang up');
    expect(seen).toEqual(['broken ', 'off']);
    const broken = promptTokens * 1000 + countTokens('broken off') * 2000;
    expect(spend.jobFields.cost_nusd).toBe(String(broken));

    const usage = { prompt_tokens: 12, completion_tokens: 30, total_tokens: 42 };
    await spend.call(request, () => undefined, async () => ({ content: 'whatever', finishReason: 'stop', usage }));
    expect(spend.jobFields.cost_nusd).toBe(String(broken + 12_000 + 60_000));
    expect(await spendOf(tenant)).toMatchObject({ spentNanoUsd: broken + 72_000, reservedNanoUsd: 0, requests: 2 });

    // What is left (the budget less what was spent) is less than a worst case.
    let ran = false;
    await expect(spend.call(request, () => undefined, async () => ((ran = true), { content: '', finishReason: 'stop', usage }))).rejects.toBeInstanceOf(BudgetExceededError);
    expect(ran).toBe(false);
  });

  it('reserves the prompt material the text count leaves out: tool definitions and tool calls, counted with the tokenizer', async () => {
    const tenant = newTenant();
    // A budget that pays for the worst case of the messages' text, and a little more.
    const budget = budgetFor({ [tenant]: usd(worstCase + 10_000) });
    const { id } = await runningJob(tenant);
    const spend = new JobSpend(budget, id, tenant);
    const tool = { type: 'function', function: { name: 'lookup', description: 'lorem ipsum dolor sit amet '.repeat(100), parameters: { type: 'object', properties: {} } } };
    const withTools = { ...request, tools: [tool] };
    let ran = false;
    const usage = { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 };
    await expect(spend.call(withTools, () => undefined, async () => ((ran = true), { content: '', finishReason: 'stop', usage }))).rejects.toBeInstanceOf(BudgetExceededError);
    expect(ran).toBe(false);
    // an assistant message's tool calls are prompt too
    const called = { ...request, messages: [...request.messages, { role: 'assistant' as const, content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: JSON.stringify({ query: 'consectetur adipiscing elit '.repeat(100) }) } }] }] };
    await expect(spend.call(called, () => undefined, async () => ((ran = true), { content: '', finishReason: 'stop', usage }))).rejects.toBeInstanceOf(BudgetExceededError);
    expect(ran).toBe(false);
    // without them the same budget pays
    await spend.call(request, () => undefined, async () => ((ran = true), { content: '', finishReason: 'stop', usage }));
    expect(ran).toBe(true);
  });
});
