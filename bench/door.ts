/**
 * Issue 5: the added latency of the OpenAI-compatible door. The same `openai` SDK client streams
 * once through Spool's `/v1/chat/completions` (queue, worker, Redis, SSE back) and once straight
 * from the simulator; time to first token and total time, p50 and p99, at 1 and 100 streams.
 */
import { SdkStreamRunner } from './sdk-runner.js';
import { BENCH_API_KEY } from './processes.js';
import type { StreamResult } from './stream-runner.js';
import { ms, signedMs, summarize, type Summary } from './stats.js';
import type { Row } from './report.js';

export interface DoorSettings {
  /** concurrent streams per measurement */
  concurrency: number[];
  /** streams per side at each concurrency */
  streams: (concurrency: number) => number;
  prompt: string;
}

export interface DoorSide {
  ttft: Summary;
  total: Summary;
  errors: number;
}

export type DoorFigures = Map<number, { door: DoorSide; direct: DoorSide }>;

/** `total` streams through `runner`, `concurrency` at a time, into `results`. */
async function run(runner: SdkStreamRunner, settings: DoorSettings, concurrency: number, total: number, results: StreamResult[]): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next++;
        results.push(await runner.run(`${settings.prompt} ${Math.random()}`, { timeoutMs: 60_000 }));
      }
    }),
  );
}

function side(results: StreamResult[]): DoorSide {
  const ok = results.filter((result) => result.ok && result.firstDeltaAt !== undefined);
  return {
    ttft: summarize(ok.map((result) => result.firstDeltaAt! - result.startedAt)),
    total: summarize(ok.map((result) => result.endedAt - result.startedAt)),
    errors: results.length - ok.length,
  };
}

export async function benchDoor(spoolUrl: string, simulatorUrl: string, settings: DoorSettings, log: (line: string) => void): Promise<DoorFigures> {
  // The same SDK client both sides, the API key included (the simulator ignores it).
  const door = new SdkStreamRunner(`${spoolUrl}/v1`, BENCH_API_KEY);
  const direct = new SdkStreamRunner(simulatorUrl, BENCH_API_KEY);
  const figures: DoorFigures = new Map();
  for (const concurrency of settings.concurrency) {
    // Warm both paths, then measure in two halves in alternating order: direct, door, door, direct.
    await Promise.all([door.run(`${settings.prompt} warm`), direct.run(`${settings.prompt} warm`)]);
    const half = Math.ceil(settings.streams(concurrency) / 2);
    const directResults: StreamResult[] = [];
    const doorResults: StreamResult[] = [];
    await run(direct, settings, concurrency, half, directResults);
    await run(door, settings, concurrency, half, doorResults);
    await run(door, settings, concurrency, half, doorResults);
    await run(direct, settings, concurrency, half, directResults);
    const directSide = side(directResults);
    const doorSide = side(doorResults);
    log(`door ${concurrency} streams: ttft p50 ${ms(doorSide.ttft.p50)} vs ${ms(directSide.ttft.p50)}, total p50 ${ms(doorSide.total.p50)} vs ${ms(directSide.total.p50)}, errors ${doorSide.errors}/${directSide.errors}`);
    figures.set(concurrency, { door: doorSide, direct: directSide });
  }
  return figures;
}

export function doorRows(figures: DoorFigures): Row[] {
  const rows: Row[] = [];
  for (const [concurrency, { door, direct }] of figures) {
    for (const [what, key] of [['time to first token', 'ttft'], ['total time', 'total']] as const) {
      for (const p of ['p50', 'p99'] as const) {
        rows.push({
          figure: `(e) door ${what} ${p}, ${concurrency} stream${concurrency > 1 ? 's' : ''} (openai SDK via /v1/chat/completions)`,
          spool: ms(door[key][p]),
          baseline: `${ms(direct[key][p])} (SDK straight at the simulator)`,
          comparison: signedMs(door[key][p] - direct[key][p]),
          // Issue 16: one request each way, so the door may add little to the first token.
          ...(key === 'ttft' && p === 'p50' && concurrency <= 10
            ? { goal: '≤ +2 ms', met: Number.isFinite(door.ttft.p50 - direct.ttft.p50) ? door.ttft.p50 - direct.ttft.p50 <= 2 : undefined }
            : { goal: '' }),
        });
      }
    }
  }
  return rows;
}
