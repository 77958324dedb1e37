import { describe, expect, it } from 'vitest';
import { withTimeout } from './with-timeout.js';

describe('withTimeout', () => {
  it('passes on what settles in time, and rejects what does not', async () => {
    await expect(withTimeout(Promise.resolve('ok'), 1000)).resolves.toBe('ok');
    await expect(withTimeout(Promise.reject(new Error('own')), 1000)).rejects.toThrow('own');
    await expect(withTimeout(new Promise(() => undefined), 10)).rejects.toThrow('no answer in 10 ms');
  });
});
