import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postWebhook } from './post-webhook.js';
import { checkWebhookUrl } from './webhook-url.js';

// Everything here talks to a server on 127.0.0.1 only.
describe('postWebhook', () => {
  let server: Server;
  let port: number;
  const seen: { host?: string; path?: string; body: string; headers: IncomingMessage['headers'] }[] = [];
  let handler: (request: IncomingMessage, response: ServerResponse) => void = (_request, response) => response.end();

  beforeAll(async () => {
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        seen.push({ host: request.headers.host, path: request.url, body, headers: request.headers });
        handler(request, response);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('connects to the checked address, keeping the name in Host', async () => {
    handler = (_request, response) => response.writeHead(204).end();
    // `receiver.test` does not exist: only the pinned address makes this reach the server.
    const target = await checkWebhookUrl(`http://receiver.test:${port}/hook?a=1`, {
      allowPrivate: true,
      resolve: async () => [{ address: '127.0.0.1', family: 4 }],
    });
    const result = await postWebhook(target, '{"a":1}', { 'content-type': 'application/json', 'webhook-id': 'wh_1' }, 2000);
    expect(result).toEqual({ statusCode: 204, error: null });
    expect(seen.at(-1)).toMatchObject({ host: `receiver.test:${port}`, path: '/hook?a=1', body: '{"a":1}' });
    expect(seen.at(-1)!.headers['webhook-id']).toBe('wh_1');
  });

  it('does not follow a redirect', async () => {
    handler = (request, response) => {
      if (request.url === '/moved') response.writeHead(307, { location: `http://127.0.0.1:${port}/elsewhere` }).end();
      else response.writeHead(200).end();
    };
    const before = seen.length;
    const target = await checkWebhookUrl(`http://127.0.0.1:${port}/moved`, { allowPrivate: true });
    expect(await postWebhook(target, '{}', {}, 2000)).toEqual({ statusCode: 307, error: null });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(seen.slice(before).map((request) => request.path)).toEqual(['/moved']);
  });

  it('gives up after the timeout with no status, and names a refused connection', async () => {
    handler = () => undefined; // never answers
    const target = await checkWebhookUrl(`http://127.0.0.1:${port}/slow`, { allowPrivate: true });
    const started = Date.now();
    expect(await postWebhook(target, '{}', {}, 300)).toEqual({ statusCode: null, error: 'timeout: no answer in 300 ms' });
    expect(Date.now() - started).toBeLessThan(2000);

    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = await checkWebhookUrl(`http://127.0.0.1:${closedPort}/`, { allowPrivate: true });
    expect(await postWebhook(refused, '{}', {}, 2000)).toEqual({ statusCode: null, error: 'connection failed (ECONNREFUSED)' });
  });
});
