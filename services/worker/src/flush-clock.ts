/** When a delta writer's next write may go: the window, and a call at its next boundary. */
export interface FlushSchedule {
  readonly windowMs: number;
  schedule(callback: () => void): () => void;
}

export interface FlushClockOptions {
  /** the window while few streams write (the worker's default: 80 ms) */
  baseMs: number;
  /** streams writing at once up to which the window stays `baseMs`; default 50 */
  streamsAtBase?: number;
  /** the widest window, however many streams write; default 250 ms */
  maxMs?: number;
}

/**
 * One timer per window boundary for every delta writer of a worker process: their writes come
 * due in the same turn of the event loop and leave for Redis in one socket write, instead of one
 * round trip per job at scattered times. Past `streamsAtBase` streams the window widens in
 * proportion (up to `maxMs`), so a loaded process makes about as many appends a second as at
 * `streamsAtBase`, each carrying more tokens: every append costs the worker, Redis, the API and
 * each watcher about the same whatever it carries. A stream's first delta never waits for it.
 */
export class FlushClock implements FlushSchedule {
  private due = new Set<() => void>();
  private timer: NodeJS.Timeout | null = null;
  private readonly baseMs: number;
  private readonly streamsAtBase: number;
  private readonly maxMs: number;
  /** the writers that were due at the last tick: the streams writing now */
  private streams = 0;

  constructor(options: FlushClockOptions | number) {
    const settings = typeof options === 'number' ? { baseMs: options } : options;
    this.baseMs = settings.baseMs;
    this.streamsAtBase = settings.streamsAtBase ?? 50;
    this.maxMs = Math.max(this.baseMs, settings.maxMs ?? 250);
  }

  get windowMs(): number {
    if (this.streams <= this.streamsAtBase) return this.baseMs;
    return Math.min(this.maxMs, Math.round((this.baseMs * this.streams) / this.streamsAtBase));
  }

  /** Calls `callback` at the next window boundary; the returned function cancels it. */
  schedule(callback: () => void): () => void {
    this.due.add(callback);
    if (!this.timer) {
      const window = this.windowMs;
      this.timer = setTimeout(() => this.tick(), window - (Date.now() % window));
    }
    return () => this.due.delete(callback);
  }

  private tick(): void {
    this.timer = null;
    const due = this.due;
    this.due = new Set();
    this.streams = due.size;
    for (const callback of due) callback();
  }
}
