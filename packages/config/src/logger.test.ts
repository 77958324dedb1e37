import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createLogger, flushLogs } from './logger.js';
import { redactUrlsDeep } from './redact-url.js';

function capture(mixin?: () => Record<string, unknown>) {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, logger: createLogger({ name: 'test', destination, mixin }) };
}

describe('log lines', () => {
  it('carry no credentials of a URL, in fields, nested fields or the message', async () => {
    const { lines, logger } = capture();
    logger.info({ upstream: 'https://user:s3cret-pass@127.0.0.1:4010/v1', nested: { list: ['redis://:r3dis-pw@127.0.0.1:6379/0'] } }, 'worker ready');
    logger.warn('upstream https://sk-t0ken-as-user@127.0.0.1/v1 refused; see http://127.0.0.1/docs');
    const output = lines.join('');
    for (const secret of ['s3cret-pass', 'r3dis-pw', 'sk-t0ken-as-user']) expect(output).not.toContain(secret);
    const [ready, warning] = lines.map((line) => JSON.parse(line));
    expect(ready.upstream).toBe('https://user:***@127.0.0.1:4010/v1');
    expect(ready.nested.list[0]).toBe('redis://:***@127.0.0.1:6379/0');
    expect(warning.msg).toBe('upstream https://***@127.0.0.1/v1 refused; see http://127.0.0.1/docs');
  });

  it('carry the mixin\'s fields as they are when each line is written (the active trace), and none without one', () => {
    let traceId: string | undefined;
    const { lines, logger } = capture(() => (traceId ? { trace_id: traceId } : {}));
    logger.info('outside');
    traceId = '0af7651916cd43dd8448eb211c80319c';
    logger.child({ job_id: 'job_1' }).info('inside');
    const [outside, inside] = lines.map((line) => JSON.parse(line));
    expect(outside).not.toHaveProperty('trace_id');
    expect(inside).toMatchObject({ trace_id: traceId, job_id: 'job_1', msg: 'inside' });
    const plain = capture();
    plain.logger.info('plain');
    expect(JSON.parse(plain.lines[0])).not.toHaveProperty('trace_id');
  });
});

describe('an asynchronous destination', () => {
  it('holds lines back from the caller, and flushLogs writes every one out before an exit', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-logs-'));
    try {
      const path = join(dir, 'out.log');
      // An open descriptor, as stdout is.
      const destination = pino.destination({ dest: openSync(path, 'a'), sync: false });
      const logger = createLogger({ name: 'test', destination });
      for (let index = 0; index < 2000; index++) logger.info({ index }, 'line');
      flushLogs(logger);
      const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean);
      expect(lines).toHaveLength(2000);
      expect(JSON.parse(lines.at(-1)!)).toMatchObject({ index: 1999, msg: 'line' });
      destination.end();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('redactUrlsDeep', () => {
  it('gives back a line with nothing to mask as it is, and copies only what it masks', () => {
    const plain = { request_id: 'req_1', req: { method: 'GET', url: '/v1/jobs' }, list: ['a', 'b'] };
    expect(redactUrlsDeep(plain)).toBe(plain);
    const secret = { keep: { a: 1 }, nested: { url: 'redis://:pw@127.0.0.1:6379' } };
    const masked = redactUrlsDeep(secret) as typeof secret;
    expect(masked).not.toBe(secret);
    expect(masked.keep).toBe(secret.keep);
    expect(masked.nested.url).toBe('redis://:***@127.0.0.1:6379');
    expect(secret.nested.url).toBe('redis://:pw@127.0.0.1:6379');
  });
});
