/**
 * Issue 15: the playground shows an admin each upstream's headroom (from GET /admin/upstreams),
 * and which upstream answered a reply; a visitor without the admin key sees neither table nor error.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { startPoolStack, type PoolStack } from '../support/pool-stack.js';
import { chromiumMissing, launchChromium } from '../support/browser.js';
import { skipWhenMissing } from '../support/skip-when-missing.js';

const ADMIN_KEY = 'playground-admin-key';

describe('the playground with a pool of upstreams', skipWhenMissing(chromiumMissing()), () => {
  let stack: PoolStack;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    [stack, browser] = await Promise.all([
      startPoolStack({
        upstreams: [
          { name: 'east', simulator: { rpm: 6000, tpm: 10_000_000, ttftMs: 20, tokensPerSecond: 200 } },
          { name: 'west', simulator: { rpm: 6000, tpm: 10_000_000, ttftMs: 20, tokensPerSecond: 200 } },
        ],
        env: { SPOOL_ADMIN_KEY: ADMIN_KEY },
      }),
      launchChromium(),
    ]);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  async function openPage(path = '/', beforeLoad?: (page: Page) => void): Promise<Page> {
    const page = await browser.context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    beforeLoad?.(page);
    await page.goto(`${stack.url}${path}`);
    return page;
  }

  it('shows no upstream table, and no error, to a visitor without the admin key', async () => {
    let asked: Promise<{ status(): number }> | undefined;
    const page = await openPage('/', (opening) => {
      asked = opening.waitForResponse((response) => response.url().endsWith('/admin/upstreams'));
    });
    await page.waitForFunction(() => document.querySelectorAll('#model option').length > 0);
    expect((await asked!).status()).toBe(401);
    expect(await page.isHidden('#upstreams')).toBe(true);
    expect(await page.textContent('#error')).toBe('');
    await page.close();
    expect(pageErrors).toEqual([]);
  });

  it("shows an admin each upstream's state, calls in flight and budget left, and which upstream answered", async () => {
    // The admin key once in the URL sets the admin cookie (as /admin/queues does).
    const login = await openPage(`/admin/queues?key=${ADMIN_KEY}`);
    await login.close();
    const page = await openPage();
    await page.waitForFunction(() => document.querySelectorAll('#upstream-rows tr').length === 2);
    const names = await page.$$eval('#upstream-rows tr td:first-child', (cells) => cells.map((cell) => cell.textContent));
    expect(names).toEqual(['east', 'west']);

    await page.fill('#prompt', `[[sim tokens=10]] which upstream? ${randomUUID()}`);
    await page.click('#send');
    await page.waitForFunction(() => document.body.dataset.state === 'done', null, { timeout: 30_000 });
    expect(await page.textContent('#status')).toBe('succeeded · stop');
    expect(await page.textContent('#answered-by')).toMatch(/^by (east|west)$/);
    // The budget left that upstream sent with its answer shows within a refresh or two.
    await page.waitForFunction(() =>
      [...document.querySelectorAll('#upstream-rows tr')].some((row) => /^\d+$/.test(row.children[3]?.textContent ?? '') && row.children[1]?.textContent === 'ok'),
    );
    await page.close();
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
