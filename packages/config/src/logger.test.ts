import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, logger: createLogger({ name: 'test', destination }) };
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
});
