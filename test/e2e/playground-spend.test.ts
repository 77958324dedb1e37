import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/stack.js';
import { getJson } from '../support/http.js';
import { chromiumMissing, launchChromium } from '../support/browser.js';
import { skipWhenMissing } from '../support/skip-when-missing.js';

describe('the playground shows the tenant’s spend and budget (real browser)', skipWhenMissing(chromiumMissing()), () => {
  const dir = mkdtempSync(join(tmpdir(), 'spool-playground-spend-'));
  const apiKey = `sk-${randomUUID()}`;
  let stack: Stack;
  let browser: Awaited<ReturnType<typeof launchChromium>>;

  beforeAll(async () => {
    const configPath = join(dir, 'spool.yaml');
    writeFileSync(configPath, `tenants:\n  acme:\n    keys: ["${apiKey}"]\n    budget_usd: 0.5\nmodels:\n  gpt-4o-mini: { input_usd_per_mtok: 150, output_usd_per_mtok: 600 }\n`);
    [stack, browser] = await Promise.all([startStack({ env: { SPOOL_CONFIG: configPath }, simulator: { tokensPerSecond: 200 } }), launchChromium()]);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads /v1/usage once the key is given, and again when a reply is done', async () => {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${stack.url}/`);
    expect(await page.isHidden('#spend')).toBe(true);

    await page.fill('#api-key', apiKey);
    await page.dispatchEvent('#api-key', 'change');
    await expect.poll(() => page.textContent('#spend')).toBe('This month: $0.00 spent of a $0.50 budget');

    // A limit: without one the worst case is the rest of the model's window, more than this budget.
    await page.fill('#max-tokens', '40');
    await page.fill('#prompt', `[[sim tokens=30]] what does it cost ${randomUUID()}`);
    await page.click('#send');
    await page.waitForFunction(() => document.body.dataset.state === 'done', null, { timeout: 30_000 });
    const usage = (await getJson(`${stack.url}/v1/usage`, { authorization: `Bearer ${apiKey}` })).body;
    expect(usage.spend_usd).toBeGreaterThan(0.01);
    await expect.poll(() => page.textContent('#spend')).toBe(`This month: $${usage.spend_usd.toFixed(2)} spent of a $0.50 budget`);
    expect(await page.getAttribute('#spend', 'data-spent')).toBe('false');
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});
