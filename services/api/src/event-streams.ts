import type { Response } from 'express';

const PING = Buffer.from(': ping\n\n');

/** One open SSE response, as the shared heartbeat and the shutdown see it. */
export class EventStream {
  /** the heartbeat tick of its last write */
  tick: number;
  closed = false;
  /** stops its watch of the job, once it has one */
  unwatch: (() => void) | undefined;

  constructor(
    readonly res: Response,
    private readonly streams: EventStreams,
    private readonly release: () => void,
  ) {
    this.tick = streams.tick;
  }

  write(bytes: Buffer | string): void {
    if (this.closed) return;
    this.res.write(bytes);
    this.tick = this.streams.tick;
  }

  /** Ends the response (once) and lets go of its watch and its tenant's slot. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unwatch?.();
    this.release();
    this.streams.remove(this);
    this.res.end();
  }
}

/** Its stream, on the response: the `close` listener is one function shared by every stream. */
const STREAM = Symbol('spool.eventStream');

function closeStreamOf(this: Response & { [STREAM]?: EventStream }): void {
  this[STREAM]?.close();
}

/**
 * The SSE responses this process holds open. One timer, not one per stream, pings every stream
 * that sent nothing for about a heartbeat interval, and one shutdown listener ends them all (their
 * clients resume elsewhere with Last-Event-ID): per stream there is only its entry.
 */
export class EventStreams {
  /** counts heartbeat periods, a third of the interval each */
  tick = 0;
  private readonly open = new Set<EventStream>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly heartbeatMs: number,
    private readonly shutdown?: AbortSignal,
  ) {
    shutdown?.addEventListener('abort', () => this.closeAll(), { once: true });
  }

  /** Opens `res` as an event stream; `release` (a tenant's slot) is called once when it closes. */
  add(res: Response, release: () => void): EventStream {
    const stream = new EventStream(res, this, release);
    (res as Response & { [STREAM]?: EventStream })[STREAM] = stream;
    res.on('close', closeStreamOf);
    if (this.shutdown?.aborted) {
      stream.close();
      return stream;
    }
    this.open.add(stream);
    this.timer ??= setInterval(() => this.beat(), this.heartbeatMs / 3);
    return stream;
  }

  remove(stream: EventStream): void {
    this.open.delete(stream);
    if (this.open.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /**
   * A stream that wrote nothing in the last three periods gets a ping: so one that stays quiet
   * is pinged every heartbeat interval, and none waits longer than that.
   */
  private beat(): void {
    this.tick++;
    for (const stream of this.open) if (this.tick - stream.tick >= 3) stream.write(PING);
  }

  private closeAll(): void {
    for (const stream of [...this.open]) stream.close();
  }
}
