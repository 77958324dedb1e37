import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { loadScript, resolveIncludes } from './script-loader.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('script loader', () => {
  let redis: Redis;

  beforeAll(() => {
    redis = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    await redis.quit();
  });

  it('pastes an include once, whether named relative to the file or by package', async () => {
    const script = resolveIncludes(
      ['--- @include "./commands/now-ms.lua"', '--- @include "@spool/queue/commands/now-ms.lua"', 'return nowMs()'].join('\n'),
      new URL(import.meta.url),
    );
    expect(script.match(/local function nowMs/g)).toHaveLength(1);
    const before = Date.now();
    const now = (await redis.eval(script, 0)) as number;
    // Redis runs on this host: its clock is ours, give or take rounding to whole ms.
    expect(now).toBeGreaterThanOrEqual(before - 1);
    expect(now).toBeLessThanOrEqual(Date.now() + 1);
  });

  it("pastes BullMQ's own fragments from the installed bullmq, with the siblings they name without `.lua`", () => {
    const script = resolveIncludes('--- @include "bullmq/dist/esm/commands/includes/addJobInTargetList.lua"', new URL(import.meta.url));
    expect(script).toContain('local function addJobInTargetList(');
    expect(script).toContain('local function addBaseMarkerIfNeeded(');
  });

  it('an unknown include fails loudly, naming the file', () => {
    expect(() => resolveIncludes('--- @include "./commands/missing.lua"', new URL(import.meta.url))).toThrow(/missing\.lua/);
  });

  it('loads a file with its includes', () => {
    expect(loadScript(new URL('./commands/now-ms.lua', import.meta.url))).toContain('local function nowMs()');
  });
});
