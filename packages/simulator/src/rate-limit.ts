const MINUTE_MS = 60_000;
const SHORT_WINDOW_MS = 5_000;

/** The outcome of asking a limiter whether `amount` fits now. */
export interface RateDecision {
  allowed: boolean;
  /** The per-minute limit, for `x-ratelimit-limit-*`. */
  limit: number;
  /** Left in the minute window after this request, for `x-ratelimit-remaining-*`. */
  remaining: number;
  /** Until the minute window is back to its initial state, for `x-ratelimit-reset-*`. */
  resetMs: number;
  /** Until the windows would admit this request; 0 when allowed. */
  retryAfterMs: number;
  /** Used in the minute window before this request. */
  used: number;
}

/**
 * OpenAI-style limit over sliding windows: at most `limit` in any 60 s and at most
 * `floor(limit / 12) + 1` in any 5 s, so a full minute's budget cannot land in one burst.
 */
export class SlidingWindowLimiter {
  readonly limit: number;
  readonly shortLimit: number;
  private readonly times: number[] = [];
  private readonly amounts: number[] = [];
  private head = 0;
  private shortHead = 0;
  private used = 0;
  private shortUsed = 0;

  constructor(limitPerMinute: number) {
    this.limit = limitPerMinute;
    this.shortLimit = Math.floor(limitPerMinute / 12) + 1;
  }

  /** Decides without recording; call `record` once every limiter of the request agreed. */
  evaluate(amount: number, now: number): RateDecision {
    this.expire(now);
    const fitsMinute = amount <= this.limit && this.used + amount <= this.limit;
    // A request larger than the 5 s allowance still passes alone, or it could never pass at all.
    const fitsShort = this.shortUsed === 0 || this.shortUsed + amount <= this.shortLimit;
    const allowed = fitsMinute && fitsShort;
    let retryAfterMs = 0;
    if (!allowed) {
      retryAfterMs =
        amount > this.limit
          ? MINUTE_MS
          : Math.max(
              fitsMinute ? 0 : this.waitFor(this.head, this.used + amount - this.limit, MINUTE_MS, now),
              fitsShort ? 0 : this.waitFor(this.shortHead, this.shortUsed + amount - this.shortLimit, SHORT_WINDOW_MS, now),
            );
    }
    const newest = allowed ? now : this.times[this.times.length - 1];
    const resetMs = allowed || this.used > 0 ? Math.max(0, newest + MINUTE_MS - now) : 0;
    return {
      allowed,
      limit: this.limit,
      remaining: Math.max(0, this.limit - this.used - (allowed ? amount : 0)),
      resetMs,
      retryAfterMs,
      used: this.used,
    };
  }

  record(amount: number, now: number): void {
    this.times.push(now);
    this.amounts.push(amount);
    this.used += amount;
    this.shortUsed += amount;
  }

  private expire(now: number): void {
    while (this.shortHead < this.times.length && this.times[this.shortHead] <= now - SHORT_WINDOW_MS) {
      this.shortUsed -= this.amounts[this.shortHead++];
    }
    while (this.head < this.times.length && this.times[this.head] <= now - MINUTE_MS) {
      this.used -= this.amounts[this.head++];
    }
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times.splice(0, this.head);
      this.amounts.splice(0, this.head);
      this.shortHead -= this.head;
      this.head = 0;
    }
  }

  /** How long until entries from `from` on, expiring in order, free `needed`. */
  private waitFor(from: number, needed: number, windowMs: number, now: number): number {
    let freed = 0;
    for (let index = from; index < this.times.length; index++) {
      freed += this.amounts[index];
      if (freed >= needed || index === this.times.length - 1) return this.times[index] + windowMs - now;
    }
    return 0;
  }
}

/** OpenAI's duration format for `x-ratelimit-reset-*`: "20ms", "1.5s", "6m0s". */
export function formatDuration(ms: number): string {
  const rounded = Math.max(0, Math.round(ms));
  if (rounded < 1000) return `${rounded}ms`;
  const minutes = Math.floor(rounded / MINUTE_MS);
  const seconds = Number(((rounded % MINUTE_MS) / 1000).toFixed(3));
  return minutes > 0 ? `${minutes}m${seconds}s` : `${seconds}s`;
}
