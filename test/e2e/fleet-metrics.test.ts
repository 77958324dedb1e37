import { describe, expect, it } from 'vitest';
import { ApiServer } from '@spool/api';
import { silentLogger, useStack } from '../support/stack.js';
import { postJson } from '../support/http.js';
import { parseMetrics, total } from '../support/metrics-text.js';

const messages = (content: string) => [{ role: 'user', content }];

describe("the API's /metrics shows the fleet", () => {
  const stack = useStack({ workers: 2, simulator: { tokensPerSecond: 1000, ttftMs: 10 }, env: { SPOOL_API_KEYS: 'alpha:key-a,beta:key-b' } });
  const alpha = { authorization: 'Bearer key-a' };
  const beta = { authorization: 'Bearer key-b' };

  it('counts jobs by final status and tokens by tenant, as the workers ended them, read from Redis by any API process', async () => {
    const succeeded = await Promise.all([
      postJson(`${stack.url}/v1/jobs?wait=30`, { messages: messages('[[sim tokens=12]] fleet one') }, alpha),
      postJson(`${stack.url}/v1/jobs?wait=30`, { messages: messages('[[sim tokens=5]] fleet two') }, alpha),
      postJson(`${stack.url}/v1/jobs?wait=30`, { messages: messages('[[sim tokens=9]] fleet three') }, beta),
    ]);
    const failed = await postJson(`${stack.url}/v1/jobs?wait=30`, { messages: messages('[[sim status=400]] fleet bad') }, beta);
    const queuedForever = await postJson(`${stack.url}/v1/jobs`, { messages: messages('[[sim ttft=30000]] fleet cancel') }, alpha);
    const cancelled = await postJson(`${stack.url}/v1/jobs/${queuedForever.body.id}/cancel`, {}, alpha);
    for (const { body } of succeeded) expect(body.status).toBe('succeeded');
    expect(failed.body.status).toBe('failed');
    expect(cancelled.body.status).toBe('cancelled');

    const usage = (tenant: typeof alpha, kind: 'prompt_tokens' | 'completion_tokens') =>
      succeeded.filter((_, index) => (index < 2) === (tenant === alpha)).reduce((sum, { body }) => sum + body.result.usage[kind], 0);
    const partial = (job: { partial?: { completion_tokens: number } | null }) => job.partial?.completion_tokens ?? 0;

    // A second API process, with a registry of its own that saw none of this traffic, shows the same.
    const other = new ApiServer({ config: stack.config, logger: silentLogger, store: stack.store });
    const otherUrl = await other.listen(0, '127.0.0.1');
    try {
      for (const url of [stack.url, otherUrl]) {
        const samples = parseMetrics(await (await fetch(`${url}/metrics`)).text());
        expect(total(samples, 'spool_fleet_jobs_total', { status: 'succeeded' })).toBe(3);
        expect(total(samples, 'spool_fleet_jobs_total', { status: 'failed' })).toBe(1);
        expect(total(samples, 'spool_fleet_jobs_total', { status: 'cancelled' })).toBe(1);
        expect(total(samples, 'spool_fleet_tokens_total', { tenant: 'alpha', kind: 'prompt' })).toBe(usage(alpha, 'prompt_tokens'));
        expect(total(samples, 'spool_fleet_tokens_total', { tenant: 'alpha', kind: 'completion' })).toBe(usage(alpha, 'completion_tokens') + partial(cancelled.body));
        expect(total(samples, 'spool_fleet_tokens_total', { tenant: 'beta', kind: 'prompt' })).toBe(usage(beta, 'prompt_tokens'));
        expect(total(samples, 'spool_fleet_tokens_total', { tenant: 'beta', kind: 'completion' })).toBe(usage(beta, 'completion_tokens') + partial(failed.body));
        expect(samples.find((sample) => sample.name === 'spool_fleet_jobs_total')?.labels.service).toBe('api');
      }
    } finally {
      await other.close();
    }
  });
});
