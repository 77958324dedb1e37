/**
 * Issue 15: `npm start` with the example pool (examples/spool.yaml) runs a simulator for each of
 * its two upstreams, and jobs go to both. The example's ports are swapped for free ones.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deletePrefix, REDIS_URL } from '../support/stack.js';
import { getJson, postJson } from '../support/http.js';
import { ROOT, runProcess, type Child } from '../support/processes.js';
import { freePort } from '../../scripts/free-port.js';

describe('npm start with examples/spool.yaml', () => {
  const prefix = `test-${randomUUID().slice(0, 12)}`;
  const dir = mkdtempSync(join(tmpdir(), 'spool-start-pool-'));
  let start: Child | undefined;

  afterAll(async () => {
    await start?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    await deletePrefix(prefix);
  });

  it('runs a simulator at each upstream, and jobs go to both; Ctrl-C stops everything', async () => {
    const [east, west] = [await freePort(), await freePort()];
    const example = readFileSync(join(ROOT, 'examples/spool.yaml'), 'utf8');
    expect(example).toContain('127.0.0.1:4011');
    expect(example).toContain('127.0.0.1:4012');
    const configPath = join(dir, 'spool.yaml');
    writeFileSync(configPath, example.replace('127.0.0.1:4011', `127.0.0.1:${east}`).replace('127.0.0.1:4012', `127.0.0.1:${west}`));
    start = runProcess('scripts/start.ts', {
      SPOOL_CONFIG: configPath,
      REDIS_URL,
      SPOOL_PREFIX: prefix,
      PORT: '0',
      LOG_LEVEL: 'info',
      SPOOL_LOG_PRETTY: 'false',
      SPOOL_STORE_URL: `sqlite:${join(dir, 'spool.db')}`,
      SPOOL_METRICS_PORT: '0',
      SPOOL_ADMIN_KEY: 'admin',
      SPOOL_CLIENT_RPM: '1000000',
    });
    await start.waitFor(/\[spool\] ready/, 60_000);
    const url = /api listening on (http:\/\/[^"\s]+)/.exec(await start.waitFor(/api listening on/))![1];
    expect(start.output.join('\n')).toMatch(/upstream east: nothing listened at http:\/\/127\.0\.0\.1:\d+\/v1, so the built-in simulator runs there/);
    expect(start.output.join('\n')).toMatch(/upstream west: nothing listened/);

    const jobs = [];
    for (let index = 0; index < 6; index++) {
      jobs.push((await postJson(`${url}/v1/jobs?wait=30`, { model: 'gpt-4o', messages: [{ role: 'user', content: `[[sim tokens=5]] pool #${index}` }] })).body);
    }
    for (const job of jobs) expect(job).toMatchObject({ status: 'succeeded', result: { model: 'gpt-4o' } });
    expect(new Set(jobs.map((job) => job.attempt_log[0].upstream))).toEqual(new Set(['east', 'west']));
    const upstreams = (await getJson(`${url}/admin/upstreams`, { authorization: 'Bearer admin' })).body.data;
    expect(upstreams.map((upstream: any) => [upstream.name, upstream.state, upstream.rpm])).toEqual([
      ['east', 'ok', 600],
      ['west', 'ok', 300],
    ]);
    // Each simulator runs with its upstream's limit, and says so in its rate-limit headers.
    expect(upstreams.every((upstream: any) => typeof upstream.ratelimit_remaining_requests === 'number')).toBe(true);

    expect(await start.stop('SIGINT')).toBe(0);
  }, 120_000);
});
