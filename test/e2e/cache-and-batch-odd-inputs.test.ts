/**
 * Tenant-side odd inputs on the cache and provider-batch surfaces (API.md §2, §14): every one is a
 * 4xx in the error envelope naming its field, never a 5xx, and the API keeps answering.
 */
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { useStack } from '../support/stack.js';
import { getJson, postJson } from '../support/http.js';

const alice = { authorization: 'Bearer alice-key-0000000000000' };
const bob = { authorization: 'Bearer bob-key-00000000000000' };
const API_KEYS = 'alice:alice-key-0000000000000,bob:bob-key-00000000000000';
const messages = [{ role: 'user', content: 'odd' }];

/** A POST with raw header pairs (a header may repeat), answered with its status and parsed body. */
function rawPost(url: string, headers: [string, string][], body: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: [['host', new URL(url).host], ['content-type', 'application/json'], ['authorization', alice.authorization], ...headers].flat() }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : null }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('odd cache and batch inputs', () => {
  const stack = useStack({ env: { SPOOL_API_KEYS: API_KEYS } });

  it('refuses odd x-spool-cache-ttl values with a 400 naming the header', async () => {
    const values = ['1e3', '5.0', '0x10', '0', '-5', '604801', '99999999', '5 5', '+5', 'Infinity', '1'.repeat(8000), ' '.repeat(8000) + 'x'];
    for (const value of values) {
      const response = await postJson(`${stack.url}/v1/chat/completions`, { messages }, { ...alice, 'x-spool-cache-ttl': value });
      expect(response.status, value.slice(0, 20)).toBe(400);
      expect(response.body?.error?.param, JSON.stringify(response.body)).toBe('x-spool-cache-ttl');
    }
    // Bytes past ASCII (a fetch cannot send them): Node reads them as latin1.
    const arabicFive = await rawPost(`${stack.url}/v1/chat/completions`, [['x-spool-cache-ttl', '\u00d9\u00a5']], JSON.stringify({ messages }));
    expect(arabicFive.status).toBe(400);
    expect(arabicFive.body.error.param).toBe('x-spool-cache-ttl');
    const repeated = await rawPost(`${stack.url}/v1/chat/completions`, [['x-spool-cache-ttl', '5'], ['x-spool-cache-ttl', '5']], JSON.stringify({ messages }));
    expect(repeated.status).toBe(400);
    expect(repeated.body.error.param).toBe('x-spool-cache-ttl');
  });

  it('refuses odd cache body values with a 400 naming the field', async () => {
    const values: unknown[] = [[], [5], { ttl_s: '5' }, { ttl_s: 5.5 }, { ttl_s: 1e3, x: 1 }, { ttl_s: 1e300 }, { ttl_s: -0 }, 5, 'yes', true, {}];
    for (const cache of values) {
      for (const path of ['/v1/jobs', '/v1/chat/completions']) {
        const response = await postJson(`${stack.url}${path}`, { messages, cache }, alice);
        expect(response.status, `${path} ${JSON.stringify(cache)}`).toBe(400);
        expect(String(response.body.error.param), JSON.stringify(cache)).toMatch(/^cache/);
      }
    }
  });

  it('refuses odd completion_window values and half-valid provider batches with a 4xx naming the field', async () => {
    const good = { custom_id: 'a', body: { model: 'gpt-4o-mini', messages } };
    const windows: unknown[] = ['1h', '24H', ' 24h', '24h ', 24, ['24h'], { h: 24 }, '', 'x'.repeat(100_000)];
    for (const completion_window of windows) {
      const response = await postJson(`${stack.url}/v1/batches`, { requests: [good], completion_window }, alice);
      expect(response.status, JSON.stringify(completion_window).slice(0, 20)).toBe(400);
      expect(response.body.error.param).toBe('completion_window');
    }
    const jsonl = `${JSON.stringify({ custom_id: 'a', method: 'POST', url: '/v1/chat/completions', body: good.body })}\n`;
    for (const query of ['completion_window=1h', 'completion_window=24h&completion_window=24h', 'completion_window=']) {
      const response = await fetch(`${stack.url}/v1/batches?${query}`, { method: 'POST', headers: { ...alice, 'content-type': 'application/jsonl' }, body: jsonl });
      const body = await response.json();
      expect(response.status, query).toBe(400);
      expect(body.error.param, query).toBe('completion_window');
    }
    const half = { requests: [good, { custom_id: 'b', body: { model: 'gpt-4o-mini', messages: [{ role: 'user' }] } }], completion_window: '24h' };
    const refused = await postJson(`${stack.url}/v1/batches`, half, alice);
    expect(refused.status).toBe(400);
    expect(refused.body.error.param).toMatch(/^requests\[1\]/);
    const duplicate = await postJson(`${stack.url}/v1/batches`, { requests: [good, good], completion_window: '24h' }, alice);
    expect(duplicate.status).toBe(400);
    expect(String(duplicate.body.error.param)).toMatch(/custom_id/);
  });

  it('merges 1000 identical cache jobs sent at once into one upstream call, while another tenant is served', async () => {
    const before = stack.simulator.stats.requests;
    const body = { messages: [{ role: 'user', content: '[[sim tokens=40 tps=20]] storm' }], cache: { ttl_s: 60 } };
    const storm = Promise.all(Array.from({ length: 1000 }, () => postJson(`${stack.url}/v1/jobs`, body, alice)));
    // Bob's job, sent while the storm's requests are still arriving, succeeds.
    const bobs = await postJson(`${stack.url}/v1/jobs?wait=30`, { messages: [{ role: 'user', content: 'bob, meanwhile' }] }, bob);
    expect(bobs.body).toMatchObject({ status: 'succeeded' });
    const submitted = await storm;
    expect(submitted.map((response) => response.status).filter((status) => status !== 202)).toEqual([]);
    const last = submitted.at(-1)!.body.id as string;
    await expect.poll(async () => (await getJson(`${stack.url}/v1/jobs/${last}`, alice)).body.status, { timeout: 30_000 }).toBe('succeeded');
    const ended = await Promise.all(submitted.slice(0, 50).map(async (response) => (await getJson(`${stack.url}/v1/jobs/${response.body.id}`, alice)).body));
    expect(new Set(ended.map((job) => job.status))).toEqual(new Set(['succeeded']));
    expect(new Set(ended.map((job) => job.result.content)).size).toBe(1);
    // one call for the storm, one for bob
    expect(stack.simulator.stats.requests - before).toBe(2);
  }, 60_000);
});
