import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@spool/config';
import { ApiServer } from '@spool/api';
import { deletePrefix, testConfig } from '../support/stack.js';
import { postJson } from '../support/http.js';

interface Line {
  level: number;
  msg: string;
  request_id?: string;
  req?: { method: string; url: string; remote_address?: string; user_agent?: string };
  res?: { status_code: number };
  job_id?: string;
  duration_ms?: number;
  err?: { message: string; type: string; stack: string };
}

/** One line per request at the end of it, with every field it had under pino-http. */
describe('request log lines', () => {
  const lines: Line[] = [];
  let server: ApiServer;
  let url: string;
  beforeAll(async () => {
    const destination = new Writable({
      write(chunk, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    // A store nobody answers for: session reads are a 503, whose line is an error line.
    const config = testConfig({ LOG_LEVEL: 'info', SPOOL_API_KEYS: 'acme:sk-log', SPOOL_STORE_URL: 'postgres://spool:x@127.0.0.1:1/none' });
    server = new ApiServer({ config, logger: createLogger({ name: 'spool-api', level: 'info', destination }) });
    url = await server.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await server?.close();
    await deletePrefix(server.deps.config.prefix);
  });

  const lineOf = async (requestId: string) => {
    for (let tries = 0; tries < 200 && !lines.some((line) => line.request_id === requestId); tries++) await new Promise((resolve) => setTimeout(resolve, 10));
    const found = lines.filter((line) => line.request_id === requestId);
    expect(found).toHaveLength(1);
    return found[0];
  };
  const auth = { authorization: 'Bearer sk-log', 'user-agent': 'log-test/1' };

  it('a completed request: request_id, req, job_id, res, duration_ms, at info', async () => {
    const submitted = await postJson(`${url}/v1/jobs?x=1&key=hunter2`, { messages: [{ role: 'user', content: 'log me' }] }, { ...auth, 'x-request-id': 'req-log-1' });
    expect(submitted.status).toBe(202);
    const line = await lineOf('req-log-1');
    expect(line).toMatchObject({
      level: 30,
      msg: 'request completed',
      req: { method: 'POST', url: '/v1/jobs?x=1&key=[redacted]', remote_address: '127.0.0.1', user_agent: 'log-test/1' },
      job_id: submitted.body.id,
      res: { status_code: 202 },
    });
    expect(line.duration_ms).toBeGreaterThanOrEqual(0);
    expect(Number.isInteger(line.duration_ms)).toBe(true);
    expect(JSON.stringify(lines)).not.toContain('hunter2');
    expect(JSON.stringify(lines)).not.toContain('sk-log');
  });

  it('a stream whose client left: request aborted, with the peer address read before it went', async () => {
    const submitted = await postJson(`${url}/v1/jobs`, { messages: [{ role: 'user', content: 'watched' }] }, auth);
    const { port } = new URL(url);
    const socket = connect(Number(port), '127.0.0.1');
    socket.write(`GET /v1/jobs/${submitted.body.id}/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-log\r\nx-request-id: req-log-2\r\n\r\n`);
    await new Promise((resolve) => socket.once('data', resolve));
    socket.destroy();
    expect(await lineOf('req-log-2')).toMatchObject({
      level: 30,
      msg: 'request aborted',
      req: { method: 'GET', url: `/v1/jobs/${submitted.body.id}/events`, remote_address: '127.0.0.1' },
      job_id: submitted.body.id,
      res: { status_code: 200 },
    });
  });

  it('a 5xx: request errored at level error, with err', async () => {
    const response = await fetch(`${url}/v1/sessions/sess_${'a'.repeat(24)}`, { headers: { ...auth, 'x-request-id': 'req-log-3' } });
    expect(response.status).toBe(503);
    const line = await lineOf('req-log-3');
    expect(line).toMatchObject({ level: 50, msg: 'request errored', res: { status_code: 503 }, err: { type: 'Error', message: 'failed with status code 503' } });
    expect(line.req).toMatchObject({ method: 'GET', remote_address: '127.0.0.1' });
  });

  it('masks the credentials of a URL anywhere in the line', async () => {
    await fetch(`${url}/v1/jobs`, { headers: { ...auth, 'user-agent': 'bot (+https://someone:pa55word@example.com/about)', 'x-request-id': 'req-log-6' } });
    const line = await lineOf('req-log-6');
    expect(line.req?.user_agent).toBe('bot (+https://someone:***@example.com/about)');
    expect(JSON.stringify(lines)).not.toContain('pa55word');
  });

  it('no line for scrapes and probes', async () => {
    await fetch(`${url}/healthz`, { headers: { 'x-request-id': 'req-log-4' } });
    await fetch(`${url}/v1/jobs`, { headers: { ...auth, 'x-request-id': 'req-log-5' } });
    await lineOf('req-log-5');
    expect(lines.some((line) => line.request_id === 'req-log-4')).toBe(false);
  });
});
