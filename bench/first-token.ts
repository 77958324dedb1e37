import { summarize, type Summary } from './stats.js';
import type { StreamRunner } from './stream-runner.js';
import { StageRecorder } from './stages.js';

export interface FirstTokenSettings {
  /** jobs in flight at once, each loop starting the next when its reply ended */
  concurrency: number;
  /** measured jobs per runner, split into `rounds` that alternate between the runners */
  jobs: number;
  rounds: number;
  /** unmeasured jobs per runner first (JIT, connection pools) */
  warmupJobs: number;
  /** message content; carries the simulator directive */
  prompt: string;
  /** about one reply's length: the loops start this far apart in all, so jobs are in flight evenly spaced, not in bursts of `concurrency` */
  spreadMs: number;
  timeoutMs: number;
}

export interface FirstTokenSide {
  ttfd: Summary;
  errors: string[];
  /** p50/p99 of each step of the way, for runners that report them */
  stages: string;
}

/** `total` jobs through `runner`, `concurrency` at a time; time to first delta of each, in ms. */
async function closedLoop(runner: StreamRunner, settings: FirstTokenSettings, total: number, samples: number[], errors: string[], stages?: StageRecorder): Promise<void> {
  let issued = 0;
  const loop = async () => {
    while (issued < total) {
      const index = issued++;
      const result = await runner.run(`${settings.prompt} light #${index}`, { timeoutMs: settings.timeoutMs });
      if (result.ok && result.firstDeltaAt !== undefined) {
        samples.push(result.firstDeltaAt - result.startedAt);
        stages?.add(result);
      } else errors.push(result.error ?? 'no delta');
    }
  };
  const stagger = settings.spreadMs / settings.concurrency;
  await Promise.all(Array.from({ length: settings.concurrency }, (_, index) => new Promise((resolve) => setTimeout(resolve, index * stagger)).then(loop)));
}

/**
 * Figure (a): submit → first delta at light load. The runners take turns in rounds so that
 * drift on the machine (another process waking up, GC) falls on both alike.
 */
export async function measureFirstToken(runners: StreamRunner[], settings: FirstTokenSettings): Promise<Map<string, FirstTokenSide>> {
  const samples = new Map(runners.map((runner) => [runner.name, [] as number[]]));
  const errors = new Map(runners.map((runner) => [runner.name, [] as string[]]));
  const stages = new Map(runners.map((runner) => [runner.name, new StageRecorder()]));
  for (const runner of runners) await closedLoop(runner, settings, settings.warmupJobs, [], []);
  const perRound = Math.ceil(settings.jobs / settings.rounds);
  for (let round = 0; round < settings.rounds; round++) {
    for (const runner of round % 2 ? [...runners].reverse() : runners) {
      await closedLoop(runner, settings, perRound, samples.get(runner.name)!, errors.get(runner.name)!, stages.get(runner.name));
    }
  }
  return new Map(runners.map((runner) => [runner.name, { ttfd: summarize(samples.get(runner.name)!), errors: errors.get(runner.name)!, stages: stages.get(runner.name)!.describe() }]));
}
