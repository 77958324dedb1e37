import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JobObject } from '@spool/contracts';
import { useStack } from '../support/stack.js';
import { getJson } from '../support/http.js';

/** Any JSON at all, shallow or deep, big or small. */
const anyJson = fc.jsonValue({ maxDepth: 6 });
/** Bodies that look like jobs but bend every field. */
const jobLike = fc.record(
  {
    model: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
    messages: fc.oneof(
      fc.array(fc.record({ role: fc.oneof(fc.constantFrom('system', 'user', 'assistant', 'tool', 'developer', 'wizard'), fc.integer()), content: fc.oneof(fc.string(), fc.constant(null), anyJson) }, { requiredKeys: [] }), { maxLength: 4 }),
      anyJson,
    ),
    temperature: fc.oneof(fc.double(), fc.string(), fc.constant(null)),
    top_p: fc.double(),
    max_tokens: fc.oneof(fc.integer(), fc.double()),
    priority: fc.oneof(fc.integer({ min: -5, max: 20 }), fc.string()),
    metadata: fc.oneof(fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer())), anyJson),
    on_interrupt: fc.oneof(fc.constantFrom('continue', 'restart'), fc.string()),
    webhook: fc.oneof(fc.record({ url: fc.string() }), anyJson),
    session_id: fc.oneof(fc.string(), fc.integer()),
  },
  { requiredKeys: [] },
);

async function send(url: string, body: string | Uint8Array, contentType = 'application/json'): Promise<{ status: number; body: any }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body: body as BodyInit });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

function expectEnvelopeOrSuccess(response: { status: number; body: any }): void {
  expect(response.status).toBeLessThan(500);
  if (response.status >= 400) {
    expect(Object.keys(response.body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(JSON.stringify(response.body)).not.toMatch(/\n\s+at /); // no stack traces
  } else {
    JobObject.parse(response.body);
  }
}

describe('fuzzing the job endpoints', () => {
  const stack = useStack({ workers: 0 });

  it('never answers 5xx to job-shaped bodies, and every answer is a job or the error envelope', async () => {
    await fc.assert(
      fc.asyncProperty(jobLike, async (body) => expectEnvelopeOrSuccess(await send(`${stack.url}/v1/jobs`, JSON.stringify(body)))),
      { numRuns: 150 },
    );
  });

  it('never answers 5xx to arbitrary JSON, broken JSON or arbitrary bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(anyJson.map((value) => JSON.stringify(value)), fc.string(), fc.uint8Array({ maxLength: 200 })), async (body) => {
        expectEnvelopeOrSuccess(await send(`${stack.url}/v1/jobs`, body));
      }),
      { numRuns: 100 },
    );
  });

  it('never answers 5xx to odd query strings and paths', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string(), fc.string(), async (key, value) => {
        const query = `${encodeURIComponent(key)}=${encodeURIComponent(value)}`;
        for (const path of [`/v1/jobs?${query}`, `/v1/jobs/${encodeURIComponent(value)}`, `/v1/jobs/${encodeURIComponent(value)}/events?after=${encodeURIComponent(value)}`]) {
          const response = await fetch(`${stack.url}${path}`);
          expect(response.status).toBeLessThan(500);
          await response.body?.cancel();
        }
      }),
      { numRuns: 100 },
    );
  });

  it('refuses deep nesting, huge strings and wrong content types with a 4xx', async () => {
    const deep = '['.repeat(20_000) + ']'.repeat(20_000);
    expectEnvelopeOrSuccess(await send(`${stack.url}/v1/jobs`, `{"messages":${deep}}`));
    expectEnvelopeOrSuccess(await send(`${stack.url}/v1/jobs`, JSON.stringify({ messages: [{ role: 'user', content: 'x' }], metadata: { k: 'v'.repeat(100_000) } })));
    expectEnvelopeOrSuccess(await send(`${stack.url}/v1/jobs`, 'a=b', 'application/x-www-form-urlencoded'));
    expectEnvelopeOrSuccess(await send(`${stack.url}/v1/chat/completions`, '{"messages": 5}'));
  });

  it('publishes an OpenAPI 3.1 document built from the validating schemas', async () => {
    const document = (await getJson(`${stack.url}/openapi.json`)).body;
    expect(document.openapi).toBe('3.1.0');
    for (const path of ['/v1/jobs', '/v1/jobs/{id}', '/v1/jobs/{id}/events', '/v1/chat/completions', '/v1/batches', '/v1/sessions']) {
      expect(document.paths[path], path).toBeTruthy();
    }
    const request = document.components.schemas.JobRequest;
    expect(request.properties.temperature).toBeTruthy();
    expect(request.properties.priority).toMatchObject({ minimum: 1, maximum: 10 });
    expect(request.required).toContain('messages');
  });

  it('is healthy after all that', async () => {
    expect((await getJson(`${stack.url}/readyz`)).status).toBe(200);
  });
});
