/**
 * Issue 5: the added latency of the OpenAI-compatible door. The same `openai` SDK client streams
 * once through Spool's `/v1/chat/completions` (queue, worker, Redis, SSE back) and once straight
 * from the simulator; time to first token and total time, p50 and p99, at 1 and 100 streams.
 */
import { SdkStreamRunner } from './sdk-runner.js';
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

async function measure(runner: SdkStreamRunner, settings: DoorSettings, concurrency: number): Promise<DoorSide> {
  const results: StreamResult[] = [];
  let next = 0;
  const total = settings.streams(concurrency);
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next++;
        results.push(await runner.run(`${settings.prompt} ${Math.random()}`, { timeoutMs: 60_000 }));
      }
    }),
  );
  const ok = results.filter((result) => result.ok && result.firstDeltaAt !== undefined);
  return {
    ttft: summarize(ok.map((result) => result.firstDeltaAt! - result.startedAt)),
    total: summarize(ok.map((result) => result.endedAt - result.startedAt)),
    errors: results.length - ok.length,
  };
}

export async function benchDoor(spoolUrl: string, simulatorUrl: string, settings: DoorSettings, log: (line: string) => void): Promise<DoorFigures> {
  const door = new SdkStreamRunner(`${spoolUrl}/v1`);
  const direct = new SdkStreamRunner(simulatorUrl);
  const figures: DoorFigures = new Map();
  for (const concurrency of settings.concurrency) {
    // Warm both paths, then measure the direct side first and the door second.
    await Promise.all([door.run(`${settings.prompt} warm`), direct.run(`${settings.prompt} warm`)]);
    const directSide = await measure(direct, settings, concurrency);
    const doorSide = await measure(door, settings, concurrency);
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
          goal: '',
        });
      }
    }
  }
  return rows;
}
