import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics, serveMetrics } from '@spool/metrics';
import { startStack, type Stack } from '../support/stack.js';

const KEY = 'metrics-key-0123456789';

async function scrape(url: string, authorization?: string) {
  const response = await fetch(url, { headers: authorization ? { authorization } : {} });
  const text = await response.text();
  return { status: response.status, text, authenticate: response.headers.get('www-authenticate') };
}

function expectRefused(answer: Awaited<ReturnType<typeof scrape>>) {
  expect(answer.status).toBe(401);
  expect(answer.authenticate).toBe('Bearer');
  expect(JSON.parse(answer.text)).toEqual({ error: { type: 'authentication_error', code: 'invalid_api_key', message: expect.stringContaining('SPOOL_METRICS_KEY'), param: null } });
}

describe('SPOOL_METRICS_KEY', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { SPOOL_METRICS_KEY: KEY } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("guards the API's /metrics: no key or a wrong one is a 401 in the error envelope", async () => {
    expectRefused(await scrape(`${stack.url}/metrics`));
    expectRefused(await scrape(`${stack.url}/metrics`, 'Bearer wrong-key'));
    const allowed = await scrape(`${stack.url}/metrics`, `Bearer ${KEY}`);
    expect(allowed.status).toBe(200);
    expect(allowed.text).toContain('spool_');
  });

  it("guards the worker's /metrics server the same way, and it listens on the host it is given", async () => {
    const metrics = createMetrics({ service: 'worker' });
    const { server, url } = await serveMetrics(metrics.registry, 0, '127.0.0.1', KEY);
    try {
      expect(new URL(url).hostname).toBe('127.0.0.1');
      expectRefused(await scrape(url));
      expectRefused(await scrape(url, 'Bearer wrong-key'));
      const allowed = await scrape(url, `Bearer ${KEY}`);
      expect(allowed.status).toBe(200);
      expect(allowed.text).toContain('service="worker"');
    } finally {
      server.close();
    }
  });

  it('leaves /metrics open when unset', async () => {
    const metrics = createMetrics({ service: 'worker' });
    const { server, url } = await serveMetrics(metrics.registry, 0, '127.0.0.1');
    try {
      expect((await scrape(url)).status).toBe(200);
    } finally {
      server.close();
    }
  });
});
