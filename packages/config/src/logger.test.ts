import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

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
