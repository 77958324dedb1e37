import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { UpstreamClient, type UpstreamClientOptions } from './upstream-client.js';
import { UPSTREAM_AUTH_MESSAGE, UpstreamError } from './upstream-error.js';

type Handler = (response: ServerResponse) => void;

const chunk = (content: string | null, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', model: 'gpt-4o-mini-2024-07-18', choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: finish }] })}\n\n`;

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

/** An upstream on 127.0.0.1 answering every call with `handler`; counts the connections it accepted. */
async function upstream(handler: Handler) {
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => handler(response));
  });
  let connections = 0;
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new UpstreamClient({ baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, apiKey: 'sk-test', stallTimeoutMs: 500 });
  closers.push(async () => {
    client.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { client, connections: () => connections };
}

const request = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }] };

function sse(response: ServerResponse, ...events: string[]) {
  response.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const event of events) response.write(event);
  response.end();
}

describe('UpstreamClient.stream', () => {
  it('reads deltas, finish_reason, usage and the answering model until [DONE], and reuses one kept-alive connection', async () => {
    const usage = `data: ${JSON.stringify({ id: 'c', choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } })}\n\n`;
    const { client, connections } = await upstream((response) => sse(response, chunk('Hel'), chunk('lo'), chunk(null, 'stop'), usage, 'data: [DONE]\n\n', chunk('ignored')));
    for (let call = 0; call < 3; call++) {
      const deltas: string[] = [];
      const completion = await client.stream(request, { onDelta: (text) => deltas.push(text) });
      expect(deltas).toEqual(['Hel', 'lo']);
      expect(completion).toEqual({ content: 'Hello', finishReason: 'stop', usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 }, model: 'gpt-4o-mini-2024-07-18' });
    }
    expect(connections()).toBe(1);
  });

  it('turns an error event mid-stream into a classified upstream error', async () => {
    const error = `data: ${JSON.stringify({ error: { message: 'The server had an error', type: 'server_error' } })}\n\n`;
    const { client } = await upstream((response) => sse(response, chunk('Hel'), error));
    const failure = await client.stream(request, { onDelta: () => undefined }).catch((thrown: unknown) => thrown);
    expect(failure).toBeInstanceOf(UpstreamError);
    expect((failure as UpstreamError).message).toContain('The server had an error');
    expect((failure as UpstreamError).retryable).toBe(true);
  });

  it('fails retryably when the connection breaks mid-stream', async () => {
    const { client } = await upstream((response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(chunk('Hel'), () => response.socket?.destroy());
    });
    const deltas: string[] = [];
    const failure = await client.stream(request, { onDelta: (text) => deltas.push(text) }).catch((thrown: unknown) => thrown);
    expect(deltas).toEqual(['Hel']);
    expect(failure).toMatchObject({ code: 'upstream_error', retryable: true });
  });

  it('answers an error status with the status, the body message and retry-after', async () => {
    const { client } = await upstream((response) => {
      response.writeHead(503, { 'content-type': 'application/json', 'retry-after-ms': '700' });
      response.end(JSON.stringify({ error: { message: 'overloaded', type: 'server_error' } }));
    });
    const failure = await client.stream(request, { onDelta: () => undefined }).catch((thrown: unknown) => thrown);
    expect(failure).toMatchObject({ code: 'upstream_error', status: 503, retryAfterMs: 700, retryable: true });
    expect((failure as Error).message).toContain('overloaded');
  });

  it('fails a rejected key at once as upstream_auth_error, telling tenants nothing of upstream’s words, which quote the key', async () => {
    const key = 'sk-proj-Xq7bN2mP9rT4vW8yZ1aC3eG5iK7mO9qS';
    const answer = (status: number, code: string | null) =>
      upstream((response) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ error: { message: `Incorrect API key provided: ${key.slice(0, 12)}****${key.slice(-4)}. Or ${key}.`, type: 'invalid_request_error', code } }));
      });
    for (const [status, code] of [[401, 'invalid_api_key'], [403, null], [400, 'invalid_api_key']] as const) {
      const { client } = await answer(status, code);
      const failure = await client.stream(request, { onDelta: () => undefined }).catch((thrown: unknown) => thrown);
      expect(failure).toMatchObject({ code: 'upstream_auth_error', status, retryable: false, message: UPSTREAM_AUTH_MESSAGE });
      // Operators read upstream's words in the worker's log, with the key masked.
      const { upstreamMessage } = failure as UpstreamError;
      expect(upstreamMessage).toContain('Incorrect API key provided');
      for (const fragment of [key.slice(0, 12), key.slice(-4), key.slice(8, 24)]) expect(upstreamMessage).not.toContain(fragment);
    }
  });

  it('keeps upstream’s words about a bad request for the tenant, with anything like a key masked', async () => {
    const { client } = await upstream((response) => {
      response.writeHead(400, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { message: "Invalid value for 'temperature' (sent with key sk-abcdef0123456789)", type: 'invalid_request_error', code: null } }));
    });
    const failure = await client.stream(request, { onDelta: () => undefined }).catch((thrown: unknown) => thrown);
    expect(failure).toMatchObject({ code: 'invalid_upstream_request', status: 400, retryable: false });
    expect((failure as Error).message).toContain("Invalid value for 'temperature'");
    expect((failure as Error).message).not.toContain('0123456789');
  });

  it('fails a redirect at once, naming the base URL to fix, instead of retrying it', async () => {
    const { client } = await upstream((response) => {
      response.writeHead(307, { location: 'https://example.invalid/v1/chat/completions' });
      response.end();
    });
    const failure = await client.stream(request, { onDelta: () => undefined }).catch((thrown: unknown) => thrown);
    expect(failure).toMatchObject({ code: 'invalid_upstream_request', status: 307, retryable: false });
    expect((failure as Error).message).toContain('OPENAI_BASE_URL');
  });

  it('times out a stream that stalls, and is interrupted, not failed, when the caller aborts', async () => {
    const { client } = await upstream((response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(chunk('Hel'));
    });
    await expect(client.stream(request, { onDelta: () => undefined })).rejects.toMatchObject({ code: 'upstream_timeout' });
    const controller = new AbortController();
    const aborted = client.stream(request, { signal: controller.signal, onDelta: () => controller.abort() });
    await expect(aborted).rejects.toMatchObject({ code: 'interrupted' });
  });

  /** An upstream that answers every call "ok" and records each call's headers; clients of it are closed after the test. */
  async function recordingUpstream(...options: Omit<UpstreamClientOptions, 'baseURL'>[]) {
    const seen: Record<string, string | string[] | undefined>[] = [];
    const server = createServer((incoming, response) => {
      seen.push(incoming.headers);
      incoming.resume();
      incoming.on('end', () => sse(response, chunk('ok', 'stop'), 'data: [DONE]\n\n'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    const clients = options.map((option) => new UpstreamClient({ baseURL, ...option }));
    closers.push(async () => {
      for (const client of clients) client.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });
    return { seen, clients };
  }

  it("sends an upstream's extra headers (Azure's api-key) on every call", async () => {
    const { seen, clients } = await recordingUpstream({ headers: { 'api-key': 'azure-key', 'x-team': 'blue' } });
    await clients[0].stream(request, { onDelta: () => undefined });
    expect(seen[0]).toMatchObject({ 'api-key': 'azure-key', 'x-team': 'blue' });
    // No api_key: no made-up bearer token beside Azure's key (a gateway may try the token and refuse the call).
    expect(seen[0].authorization).toBeUndefined();
  });

  it('sends the api_key as a bearer token, unless the headers give their own Authorization', async () => {
    const { seen, clients } = await recordingUpstream({ apiKey: 'sk-a' }, { headers: { authorization: 'Bearer entra-token' } }, {});
    for (const client of clients) await client.stream(request, { onDelta: () => undefined });
    expect(seen.map((headers) => headers.authorization)).toEqual(['Bearer sk-a', 'Bearer entra-token', undefined]);
  });
});
