import { summarize, type Summary } from './stats.js';
import type { StreamResult } from './stream-runner.js';

/** Where a Spool job's time to first delta went, as the client saw it (ms). */
export function stagesOf(result: StreamResult): Record<string, number> {
  const marks = result.marks;
  if (!marks || result.firstDeltaAt === undefined) return {};
  const stages: Record<string, number> = {};
  if (marks.accepted !== undefined) stages['POST → 202'] = marks.accepted - result.startedAt;
  if (marks.accepted !== undefined && marks.headers !== undefined) stages['202 → SSE headers'] = marks.headers - marks.accepted;
  if (marks.accepted !== undefined && marks.running !== undefined) stages['202 → running event'] = marks.running - marks.accepted;
  if (marks.running !== undefined) stages['running event → first delta'] = result.firstDeltaAt - marks.running;
  return stages;
}

/** Collects stages of many jobs and summarizes each. */
export class StageRecorder {
  private readonly samples = new Map<string, number[]>();

  add(result: StreamResult): void {
    for (const [stage, value] of Object.entries(stagesOf(result))) {
      const list = this.samples.get(stage) ?? [];
      list.push(value);
      this.samples.set(stage, list);
    }
  }

  summaries(): [string, Summary][] {
    return [...this.samples].map(([stage, values]) => [stage, summarize(values)]);
  }

  /** `POST → 202 4.1/9.0 ms, ...` (p50/p99) */
  describe(): string {
    return this.summaries()
      .map(([stage, summary]) => `${stage} ${summary.p50.toFixed(1)}/${summary.p99.toFixed(1)} ms`)
      .join(', ');
  }
}
