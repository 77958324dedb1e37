import { setTimeout as sleep } from 'node:timers/promises';
import { keepAliveAgent, postJson } from './http.js';
import { BENCH_AUTH } from './processes.js';
import { errorText } from './stream-runner.js';
import { summarize, type Summary } from './stats.js';

export interface EnqueueSettings {
  /** keep-alive clients, each sending its next request when the last was answered */
  clients: number;
  durationMs: number;
  warmupMs: number;
  /** the measured time is cut in this many bursts a target, taken in alternating order (an even number) */
  slices: number;
}

export interface EnqueueResult {
  requestsPerSecond: number;
  accepted: number;
  /** answers other than 202, and transport errors, by kind */
  failures: Record<string, number>;
  latency: Summary;
  /** latency with one client, one request at a time: the submit cost a lone user feels */
  soloLatency: Summary;
}

interface Burst {
  accepted: number;
  elapsedMs: number;
  failures: Record<string, number>;
  latencies: number[];
}

/** `clients` keep-alive loops POSTing `body` to `url` for `durationMs`. */
async function burst(url: string, body: string, clients: number, durationMs: number): Promise<Burst> {
  const agent = keepAliveAgent(clients);
  const failures: Record<string, number> = {};
  const latencies: number[] = [];
  let accepted = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  const loop = async () => {
    while (performance.now() < deadline) {
      const sent = performance.now();
      try {
        // The same request to both sides, the API key included (the baseline ignores it).
        const answer = await postJson(url, body, { agent, timeoutMs: 10_000, headers: BENCH_AUTH });
        if (answer.status === 202) {
          accepted++;
          latencies.push(performance.now() - sent);
        } else {
          const kind = `HTTP ${answer.status}`;
          failures[kind] = (failures[kind] ?? 0) + 1;
        }
      } catch (error) {
        const kind = errorText(error);
        failures[kind] = (failures[kind] ?? 0) + 1;
        await sleep(10);
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, loop));
  const elapsedMs = performance.now() - started;
  agent.destroy();
  return { accepted, elapsedMs, failures, latencies };
}

/**
 * Figure (c): 202s per second from each target. Both are warmed, then measured in `slices` bursts each in
 * alternating order, so neither gets the quieter half of the run.
 */
export async function compareEnqueue(
  targets: { name: string; url: string }[],
  body: string,
  settings: EnqueueSettings,
  onSlice?: (name: string, requestsPerSecond: number) => void,
): Promise<Map<string, EnqueueResult>> {
  for (const target of targets) await burst(target.url, body, settings.clients, settings.warmupMs);
  const bursts = new Map<string, Burst[]>(targets.map((target) => [target.name, []]));
  for (let slice = 0; slice < settings.slices; slice++) {
    for (const target of slice % 2 ? [...targets].reverse() : targets) {
      const result = await burst(target.url, body, settings.clients, settings.durationMs / settings.slices);
      bursts.get(target.name)!.push(result);
      onSlice?.(target.name, result.accepted / (result.elapsedMs / 1000));
    }
  }
  const solo = new Map<string, number[]>(targets.map((target) => [target.name, []]));
  for (let round = 0; round < 4; round++) {
    for (const target of round % 2 ? [...targets].reverse() : targets) solo.get(target.name)!.push(...(await burst(target.url, body, 1, settings.durationMs / 12)).latencies);
  }
  const results = new Map<string, EnqueueResult>();
  for (const [name, slices] of bursts) {
    const failures: Record<string, number> = {};
    for (const slice of slices) for (const [kind, count] of Object.entries(slice.failures)) failures[kind] = (failures[kind] ?? 0) + count;
    const accepted = slices.reduce((sum, slice) => sum + slice.accepted, 0);
    const elapsedMs = slices.reduce((sum, slice) => sum + slice.elapsedMs, 0);
    results.set(name, {
      requestsPerSecond: accepted / (elapsedMs / 1000),
      accepted,
      failures,
      latency: summarize(slices.flatMap((slice) => slice.latencies)),
      soloLatency: summarize(solo.get(name)!),
    });
  }
  return results;
}
