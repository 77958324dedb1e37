/** What Redis answered for one key: the verdict, the room left and when the bucket is full again, and requests prepaid. */
export interface RateReply {
  allowed: boolean;
  remaining: number;
  retryMs: number;
  resetMs: number;
  prepaid: number;
}

/** Asks Redis to charge `charge` requests (0 or 1) and, room allowing, `extra` more to prepay, leaving at least `keep`. */
export type ChargeRequests = (charge: 0 | 1, extra: number, keep: number) => Promise<RateReply>;

/** The headers of an allowed request, and whether it was allowed. */
export type RateVerdict = Omit<RateReply, 'prepaid'>;

/**
 * One API key's requests prepaid in Redis by this process. A key with plenty of room (at least
 * four times the prepayment left after it) prepays a sixteenth of its minute's worth, and this
 * process admits that many requests without waiting for Redis. Each was charged before it was
 * admitted, so the fleet never admits more than the limit; and a batch keeps only the requests the
 * bucket has not drained yet (one a refill interval from the charge, the last at `expiresAt`), so
 * no request is admitted that the plain check would have refused when it came.
 * Prepaid requests left unspent are charged and lost, at most 6% of the key's minute for at most
 * 3.75 s, while other processes see that much less room: only a key at its very limit notices.
 */
export class RateAllowance {
  /** prepaid requests not spent yet, oldest first, each batch's last one usable until its `expiresAt` */
  private readonly prepaid: { count: number; expiresAt: number }[] = [];
  /** the room Redis last reported, less what this process has prepaid and not spent */
  private remaining = 0;
  /** when the bucket is full again, as Redis last said (ms, this process's clock) */
  private fullAt = 0;
  private prepaying = false;

  constructor(
    /** the key's limit per minute */
    readonly rpm: number,
    private readonly charge: ChargeRequests,
    /** ms, monotonic: a prepaid request's deadline must not move with the wall clock */
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** requests prepaid at once: a sixteenth of a minute's worth (none under 16 a minute: every request asks Redis) */
  private get lease(): number {
    return Math.floor(this.rpm / 16);
  }

  /** The verdict on one request: from this process's prepaid requests when it has any, else from Redis. */
  async admit(): Promise<RateVerdict> {
    const now = this.clock();
    if (this.spendOne(now)) {
      const credit = this.credit();
      if (credit <= this.lease / 2) this.prepayMore();
      return { allowed: true, remaining: this.remaining + credit, retryMs: 0, resetMs: Math.max(0, this.fullAt - now) };
    }
    // One prepayment in flight at a time: requests meanwhile ask for themselves only.
    const extra = this.prepaying ? 0 : this.lease;
    if (extra > 0) this.prepaying = true;
    try {
      const reply = await this.charge(1, extra, 4 * extra);
      this.note(reply, now);
      return { ...reply, remaining: reply.remaining + (reply.allowed ? this.credit() : 0) };
    } finally {
      if (extra > 0) this.prepaying = false;
    }
  }

  private credit(): number {
    return this.prepaid.reduce((sum, batch) => sum + batch.count, 0);
  }

  /**
   * Spends the oldest prepaid request still usable at `now`; false when there is none. The bucket
   * drains a batch one request per refill interval from its charge, so a batch keeps only as many
   * as it still holds there: spent later, the rest would come on top of the room Redis gives back.
   */
  private spendOne(now: number): boolean {
    for (const batch of this.prepaid) batch.count = Math.min(batch.count, Math.ceil(((batch.expiresAt - now) * this.rpm) / 60_000));
    while (this.prepaid.length && this.prepaid[0].count <= 0) this.prepaid.shift();
    if (!this.prepaid.length) return false;
    this.prepaid[0].count--;
    return true;
  }

  /** Prepays the next requests while this process still has some: a failure leaves them to ask Redis. */
  private prepayMore(): void {
    if (this.prepaying) return;
    this.prepaying = true;
    const now = this.clock();
    this.charge(0, this.lease, 4 * this.lease)
      .then((reply) => this.note(reply, now))
      .catch(() => undefined)
      .finally(() => (this.prepaying = false));
  }

  /** Takes in a reply to a charge sent at `sentAt`: the room left, and the requests it prepaid. */
  private note(reply: RateReply, sentAt: number): void {
    if (!reply.allowed) return;
    this.fullAt = sentAt + reply.resetMs;
    this.remaining = reply.remaining;
    // Counted from the earliest the charge may have happened: the bucket cannot drain past them sooner.
    if (reply.prepaid > 0) this.prepaid.push({ count: reply.prepaid, expiresAt: sentAt + (reply.prepaid * 60_000) / this.rpm });
  }
}
