import type { StreamEnd } from '@spool/jobs';
import type { DeltaWriter } from './delta-writer.js';

/** Where the mirror writes: its job's delta writer, and a `reset` of its job's text. */
export interface MirrorTarget {
  writer: DeltaWriter;
  /** appends a `reset` to the job's log; false when the job is no longer the attempt's */
  restart(reason: string): Promise<boolean>;
}

/**
 * Keeps a job's own streamed text (what its log shows) following another text, the reply of the
 * job it joined: it appends what is new, and starts over with a `reset` only when the job allows
 * that (`on_interrupt: "restart"`). A watcher of the job sees the other's text, live, under the
 * job's own event ids.
 */
export class TextMirror {
  private lostJob = false;

  constructor(
    /** the job's text so far */
    public text: string,
    private readonly target: MirrorTarget,
    private readonly restartable: boolean,
  ) {}

  /** The job is no longer the attempt's (cancelled, or taken over): nothing more can be written. */
  get lost(): boolean {
    return this.lostJob || this.target.writer.lostOwnership;
  }

  /**
   * Brings the job's text to `other`. Before the end (`final` false) an `other` that is still
   * behind is waited for. False when it cannot: the job's text is not the start of `other`, and
   * the job may not start over.
   */
  async follow(other: string, final: boolean): Promise<boolean> {
    if (other.startsWith(this.text)) {
      if (other.length > this.text.length) this.target.writer.push(other.slice(this.text.length));
      this.text = other;
      return true;
    }
    if (!final && this.text.startsWith(other)) return true;
    if (!this.restartable) return false;
    await this.target.writer.flush();
    if (!(await this.target.restart('the reply it joined started over'))) {
      this.lostJob = true;
      return true;
    }
    this.text = '';
    return this.follow(other, final);
  }

  /** Resolves when everything followed is in the log; throws what a write failed with. */
  flush(): Promise<void> {
    return this.target.writer.flush();
  }

  /** Like `flush`, and records with the last deltas how the reply ended (`DeltaWriter.end`). */
  end(streamEnd: StreamEnd): Promise<void> {
    return this.target.writer.end(streamEnd);
  }
}
