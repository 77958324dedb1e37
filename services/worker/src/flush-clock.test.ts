import { describe, expect, it } from 'vitest';
import { FlushClock } from './flush-clock.js';

/** Schedules `count` callbacks on `clock` and resolves once its tick has called them all. */
function tickWith(clock: FlushClock, count: number): Promise<void> {
  let left = count;
  return new Promise((resolve) => {
    for (let index = 0; index < count; index++) {
      clock.schedule(() => {
        if (--left === 0) resolve();
      });
    }
  });
}

describe('FlushClock', () => {
  it('keeps its base window up to streamsAtBase streams, widens in proportion past them, and never past maxMs', async () => {
    const clock = new FlushClock({ baseMs: 10, streamsAtBase: 4, maxMs: 25 });
    expect(clock.windowMs).toBe(10);
    await tickWith(clock, 4);
    expect(clock.windowMs).toBe(10);
    await tickWith(clock, 8);
    expect(clock.windowMs).toBe(20);
    await tickWith(clock, 40);
    expect(clock.windowMs).toBe(25);
    await tickWith(clock, 1);
    expect(clock.windowMs).toBe(10);
  });

  it('calls every callback due on one tick, and none that was cancelled', async () => {
    const clock = new FlushClock(5);
    const called: number[] = [];
    const cancel = clock.schedule(() => called.push(0));
    await new Promise<void>((resolve) => {
      clock.schedule(() => called.push(1));
      clock.schedule(() => {
        called.push(2);
        resolve();
      });
      cancel();
    });
    expect(called).toEqual([1, 2]);
  });
});
