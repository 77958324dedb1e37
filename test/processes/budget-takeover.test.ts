/**
 * Issue 14: a worker process killed (SIGKILL) while its attempt holds a budget reservation does
 * not leak it. The worker that takes the job over settles it from what the dead attempt streamed,
 * and once the job ends nothing is reserved and the spend is what the two calls really cost.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { countPromptTokens as simulatorPromptTokens, messageText, type ChatMessage } from '@spool/simulator';
import { countPromptTokens, countTokens } from '@spool/llm';
import { REDIS_URL, startStack, type Stack } from '../support/stack.js';
import { getJson, postJson, readEvents } from '../support/http.js';
import { startWorkerProcess, type Child } from '../support/processes.js';

const KEY = { authorization: 'Bearer key-acme' };

describe('a worker killed while holding a budget reservation', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spool-budget-takeover-'));
  const configPath = join(dir, 'spool.yaml');
  writeFileSync(configPath, 'tenants:\n  acme:\n    keys: ["key-acme"]\n    budget_usd: 1\nmodels:\n  priced: { input_usd_per_mtok: 1, output_usd_per_mtok: 2 }\n');
  let stack: Stack;
  const children: Child[] = [];
  const calls: ChatMessage[][] = [];

  beforeEach(async () => {
    // The API and the simulator here; the workers are the child processes.
    stack = await startStack({ workers: 0, env: { SPOOL_CONFIG: configPath }, simulator: { tokensPerSecond: 25 } });
    stack.simulator.events.on('request', (event: { messages: ChatMessage[] }) => calls.push(event.messages));
  });
  afterEach(async () => {
    await Promise.all(children.splice(0).map((child) => child.stop('SIGKILL')));
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const startWorker = async () => {
    const env = { REDIS_URL, SPOOL_PREFIX: stack.config.prefix, OPENAI_BASE_URL: stack.simulatorUrl, SPOOL_STORE_URL: stack.config.storeUrl, SPOOL_CONFIG: configPath, SPOOL_LOCK_MS: '2000', SPOOL_BACKOFF_MS: '50', SPOOL_METRICS_PORT: '0' };
    const child = await startWorkerProcess(env);
    children.push(child);
    return child;
  };
  const usage = async () => (await getJson(`${stack.url}/v1/usage`, KEY)).body;

  it('is settled when the job is taken over: nothing stays reserved, and the spend is what both calls cost', async () => {
    const doomed = await startWorker();
    const nonce = randomUUID();
    const messages = [{ role: 'user', content: `[[sim tokens=100]] ${nonce}` }];
    const job = (await postJson(`${stack.url}/v1/jobs`, { model: 'priced', max_tokens: 100, messages }, KEY)).body;
    // queued, running and a few deltas: the first attempt is upstream, its worst case reserved.
    await readEvents(`${stack.url}${job.stream_url}`, { headers: KEY, limit: 6 });
    const worstCase = (countPromptTokens(messages as never) * 1 + 100 * 2) / 1e6;
    expect(await usage()).toMatchObject({ reserved_usd: expect.closeTo(worstCase, 12), spend_usd: 0 });

    await doomed.stop('SIGKILL');
    await startWorker();
    const events = await readEvents(`${stack.url}${job.stream_url}`, { headers: KEY });
    const done = JSON.parse(events.at(-1)!.data);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2 });

    const after = await usage();
    expect(after.reserved_usd).toBe(0);
    // The dead attempt: its prompt and the text it streamed, counted with the tokenizer; the takeover: upstream's usage.
    const secondRunning = events.findIndex((event) => event.event === 'status' && JSON.parse(event.data).attempt === 2);
    const streamed = events.slice(0, secondRunning).filter((event) => event.event === 'delta').map((event) => JSON.parse(event.data).content).join('');
    expect(streamed.length).toBeGreaterThan(0);
    const ours = calls.filter((call) => call.some((message) => messageText(message).includes(nonce)));
    expect(ours).toHaveLength(2);
    const deadCost = countPromptTokens(messages as never) * 1 + countTokens(streamed) * 2;
    const takeoverCost = simulatorPromptTokens(ours[1]) * 1 + (done.result.usage.completion_tokens - countTokens(streamed)) * 2;
    expect(done.cost_usd).toBeCloseTo((deadCost + takeoverCost) / 1e6, 12);
    expect(after).toMatchObject({ spend_usd: expect.closeTo(done.cost_usd, 12), requests: 2 });

    // The store keeps the same spend once the job-ended handlers ran.
    await vi.waitFor(async () => expect((await stack.store.spend('acme', new Date().toISOString().slice(0, 7))).costNanoUsd).toBe(Math.round(done.cost_usd * 1e9)), {
      timeout: 10_000,
      interval: 50,
    });
  }, 60_000);
});
