import type { EnqueueSettings } from './enqueue.js';
import type { FirstTokenSettings } from './first-token.js';
import type { SaturationSettings } from './saturation.js';

/** Every knob of one run; the full run fits in about three minutes on two cores, BENCH_QUICK in about 30 s. */
export interface BenchSettings {
  quick: boolean;
  simulator: { ttftMs: number; tokensPerSecond: number };
  enqueue: EnqueueSettings;
  firstToken: FirstTokenSettings;
  saturation: SaturationSettings;
}

export function benchSettings(env: NodeJS.ProcessEnv = process.env): BenchSettings {
  const quick = ['1', 'true', 'yes'].includes((env.BENCH_QUICK ?? '').toLowerCase());
  return {
    quick,
    simulator: { ttftMs: 50, tokensPerSecond: 50 },
    // Short alternating slices: a disturbance on the machine falls on both sides alike.
    enqueue: quick ? { clients: 64, durationMs: 2000, warmupMs: 500, slices: 2 } : { clients: 64, durationMs: 6000, warmupMs: 1500, slices: 6 },
    firstToken: {
      concurrency: 10,
      jobs: quick ? 30 : 200,
      rounds: quick ? 1 : 4,
      warmupJobs: quick ? 5 : 30,
      prompt: '[[sim tokens=20]]',
      // ttft 50 ms + 20 tokens at 50/s
      spreadMs: 450,
      timeoutMs: 30_000,
    },
    saturation: {
      // ×√2 apart: the best step is within 30% of the true saturation point on either side
      steps: quick ? [50, 200] : [50, 70, 100, 140, 200, 280, 400, 560, 800, 1130, 1600],
      // about one reply long, so every stream is mid-reply when the window opens
      rampMs: quick ? 1000 : 2000,
      windowMs: quick ? 1500 : 4000,
      drainMs: quick ? 2000 : 4000,
      p50LimitMs: 250,
      // two bisections: the crossing is then known to within ×1.09
      refinements: quick ? 0 : 2,
      maxErrorShare: 0.01,
      // a fifth of a core of someone else's work moves the crossing; two more tries at most
      maxOtherPercent: 20,
      disturbedRetries: 2,
      // quick: 1 s replies, so a step is shorter
      prompt: quick ? '[[sim tokens=50]]' : '[[sim tokens=100]]',
      timeoutMs: 60_000,
    },
  };
}
