/** When a delta writer's next write may go: the window, and a call at its next boundary. */
export interface FlushSchedule {
  readonly windowMs: number;
  schedule(callback: () => void): () => void;
}

/**
 * One timer per window boundary for every delta writer of a worker process: their writes come
 * due in the same turn of the event loop and leave for Redis in one socket write, instead of one
 * round trip per job at scattered times.
 */
export class FlushClock implements FlushSchedule {
  private due = new Set<() => void>();
  private timer: NodeJS.Timeout | null = null;

  constructor(readonly windowMs: number) {}

  /** Calls `callback` at the next window boundary; the returned function cancels it. */
  schedule(callback: () => void): () => void {
    this.due.add(callback);
    this.timer ??= setTimeout(() => this.tick(), this.windowMs - (Date.now() % this.windowMs));
    return () => this.due.delete(callback);
  }

  private tick(): void {
    this.timer = null;
    const due = this.due;
    this.due = new Set();
    for (const callback of due) callback();
  }
}
