import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Page, Request } from 'playwright-core';
import { ApiServer } from '@spool/api';
import { startStack, silentLogger, type Stack } from '../support/stack.js';
import { getJson } from '../support/http.js';
import { chromiumMissing, launchChromium } from '../support/browser.js';
import { skipWhenMissing } from '../support/skip-when-missing.js';

const needsChromium = skipWhenMissing(chromiumMissing());

const nonce = () => randomUUID().slice(0, 8);

/** Submits a prompt from the page; resolves with the new job's id. */
async function send(page: Page, prompt: string, maxTokens?: number): Promise<string> {
  await page.fill('#prompt', prompt);
  await page.fill('#max-tokens', maxTokens ? String(maxTokens) : '');
  const previous = await page.evaluate(() => document.body.dataset.jobId ?? '');
  await page.click('#send');
  await page.waitForFunction((before) => (document.body.dataset.jobId ?? '') !== before, previous);
  return page.evaluate(() => document.body.dataset.jobId!);
}

async function waitUntilDone(page: Page): Promise<void> {
  await page.waitForFunction(() => document.body.dataset.state === 'done', null, { timeout: 45_000 });
}

async function waitForText(page: Page, length = 1): Promise<void> {
  await page.waitForFunction((min) => (document.getElementById('output')!.textContent ?? '').length >= min && document.body.dataset.state === 'running', length);
}

const output = (page: Page) => page.evaluate(() => document.getElementById('output')!.textContent ?? '');

/** Every request the page makes for a job's event stream: the headers it really sent. */
function recordEventRequests(page: Page): () => Promise<Record<string, string>[]> {
  const seen: Promise<Record<string, string>>[] = [];
  page.on('request', (request: Request) => {
    if (request.url().includes('/events')) seen.push(request.allHeaders());
  });
  return () => Promise.all(seen);
}

/**
 * Stops the stack's API mid-stream (every connection is cut) and starts a new one on the same
 * port, as a deploy or a crash would; returns the new server for closing.
 */
async function restartApi(stack: Stack): Promise<ApiServer> {
  const port = Number(new URL(stack.url).port);
  await stack.api.close();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const replacement = new ApiServer({ config: stack.config, logger: silentLogger, store: stack.store });
  await replacement.listen(port, '127.0.0.1');
  return replacement;
}

describe('the playground page in a real browser (open API: EventSource)', needsChromium, () => {
  let stack: Stack;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  const replacements: ApiServer[] = [];

  beforeAll(async () => {
    [stack, browser] = await Promise.all([startStack({ simulator: { ttftMs: 50, tokensPerSecond: 50 } }), launchChromium()]);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await Promise.all(replacements.map((server) => server.close()));
    await stack?.close();
  });
  afterEach(() => {
    expect(pageErrors).toEqual([]);
  });

  const pageErrors: string[] = [];
  async function openPage(): Promise<Page> {
    const page = await browser.context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${stack.url}/`);
    await page.waitForFunction(() => document.querySelectorAll('#model option').length > 0);
    return page;
  }

  it('is served at / and lists the models from /v1/models', async () => {
    const page = await openPage();
    expect(await page.title()).toBe('Spool playground');
    const models = await page.$$eval('#model option', (options) => options.map((option) => (option as HTMLOptionElement).value));
    const listed = (await getJson(`${stack.url}/v1/models`)).body.data.map((model: { id: string }) => model.id);
    // First the server's default model (the request names none), then every listed one.
    expect(models).toEqual(['', ...[...listed].sort()]);
    await page.close();
  });

  it('streams the reply in as it is written; the text on the page is the job result', async () => {
    const page = await openPage();
    const id = await send(page, `[[sim tokens=60 tps=40]] stream to the page ${nonce()}`);
    await waitForText(page);
    const partway = await output(page);
    await waitUntilDone(page);
    const job = (await getJson(`${stack.url}/v1/jobs/${id}`)).body;
    expect(job.status).toBe('succeeded');
    expect(partway.length).toBeLessThan(job.result.content.length);
    expect(await output(page)).toBe(job.result.content);
    expect(await page.textContent('#status')).toBe('succeeded · stop');
    expect(await page.isHidden('#continue')).toBe(true);
    await page.close();
  }, 60_000);

  it('cancels a running job; the page keeps what streamed and offers Continue', async () => {
    const page = await openPage();
    const id = await send(page, `[[sim tokens=400 tps=25]] cancel me ${nonce()}`);
    await waitForText(page, 10);
    await page.click('#cancel');
    await waitUntilDone(page);
    const job = (await getJson(`${stack.url}/v1/jobs/${id}`)).body;
    expect(job.status).toBe('cancelled');
    expect(job.partial.content.length).toBeGreaterThan(0);
    expect(await output(page)).toBe(job.partial.content);
    expect(await page.textContent('#status')).toMatch(/^cancelled/);
    expect(await page.isVisible('#continue')).toBe(true);
    expect(await page.isDisabled('#cancel')).toBe(true);
    await page.close();
  }, 60_000);

  it('continues a reply cut off at max tokens: the continuation is appended', async () => {
    const page = await openPage();
    const firstId = await send(page, `[[sim tokens=40]] cut me off ${nonce()}`, 8);
    await waitUntilDone(page);
    const first = (await getJson(`${stack.url}/v1/jobs/${firstId}`)).body;
    expect(first.result.finish_reason).toBe('length');
    expect(await page.textContent('#status')).toBe('succeeded · length');
    expect(await output(page)).toBe(first.result.content);

    await page.click('#continue');
    await page.waitForFunction((before) => document.body.dataset.jobId !== before, firstId);
    const secondId = await page.evaluate(() => document.body.dataset.jobId!);
    await waitUntilDone(page);
    const second = (await getJson(`${stack.url}/v1/jobs/${secondId}`)).body;
    expect(second).toMatchObject({ status: 'succeeded', continues: firstId });
    expect(second.result.content.length).toBeGreaterThan(0);
    expect(await output(page)).toBe(first.result.content + second.result.content);
    await page.close();
  }, 60_000);

  it('reconnects by itself with Last-Event-ID when the API restarts mid-stream: nothing lost or doubled', async () => {
    const page = await openPage();
    const eventRequests = recordEventRequests(page);
    const id = await send(page, `[[sim tokens=150 tps=25]] survive a restart ${nonce()}`);
    await waitForText(page, 10);
    const beforeRestart = await output(page);
    replacements.push(await restartApi(stack));
    await waitUntilDone(page);
    const job = (await getJson(`${stack.url}/v1/jobs/${id}`)).body;
    expect(job.status).toBe('succeeded');
    expect(beforeRestart.length).toBeLessThan(job.result.content.length);
    expect(await output(page)).toBe(job.result.content);
    const requests = await eventRequests();
    expect(requests.length).toBeGreaterThanOrEqual(2);
    expect(requests[0]['last-event-id']).toBeUndefined();
    expect(Number(requests.at(-1)!['last-event-id'])).toBeGreaterThan(1);
    await page.close();
  }, 60_000);
});

describe('the playground page in a real browser (API keys: fetch with Authorization)', needsChromium, () => {
  const apiKey = `sk-${randomUUID()}`;
  let stack: Stack;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  const replacements: ApiServer[] = [];

  beforeAll(async () => {
    [stack, browser] = await Promise.all([
      startStack({ simulator: { ttftMs: 50, tokensPerSecond: 50 }, env: { SPOOL_API_KEYS: `acme:${apiKey}` } }),
      launchChromium(),
    ]);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await Promise.all(replacements.map((server) => server.close()));
    await stack?.close();
  });

  it('asks for the key, keeps it in localStorage, streams with it and resumes after a restart', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${stack.url}/`);
    await expect.poll(() => page.textContent('#error')).toMatch(/needs an API key/);

    await page.fill('#api-key', apiKey);
    await page.dispatchEvent('#api-key', 'change');
    await page.waitForFunction(() => document.querySelectorAll('#model option').length > 0);
    expect(await page.evaluate(() => localStorage.getItem('spool.apiKey'))).toBe(apiKey);

    const eventRequests = recordEventRequests(page);
    const id = await send(page, `[[sim tokens=150 tps=25]] with a key ${nonce()}`);
    await waitForText(page, 10);
    const beforeRestart = await output(page);
    replacements.push(await restartApi(stack));
    await waitUntilDone(page);
    const job = (await getJson(`${stack.url}/v1/jobs/${id}`, { authorization: `Bearer ${apiKey}` })).body;
    expect(job.status).toBe('succeeded');
    expect(beforeRestart.length).toBeLessThan(job.result.content.length);
    expect(await output(page)).toBe(job.result.content);
    const requests = await eventRequests();
    expect(requests.length).toBeGreaterThanOrEqual(2);
    for (const headers of requests) expect(headers.authorization).toBe(`Bearer ${apiKey}`);
    expect(requests[0]['last-event-id']).toBeUndefined();
    expect(Number(requests.at(-1)!['last-event-id'])).toBeGreaterThan(1);

    await page.reload();
    expect(await page.inputValue('#api-key')).toBe(apiKey);
    await page.close();
  }, 60_000);
});
