import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { summarize, type Summary } from './stats.js';
import type { StreamRunner } from './stream-runner.js';
import { StageRecorder } from './stages.js';

export interface SaturationSettings {
  /** concurrent streams per step, rising */
  steps: number[];
  /** loops start spread over this long (about one reply), so steps do not begin with a stampede */
  rampMs: number;
  /** tokens and latencies are counted over this long after the ramp */
  windowMs: number;
  /** how long the replies in flight at the end of a step may take to finish before they are cut */
  drainMs: number;
  /** the step whose p50 time to first delta passes this is the last */
  p50LimitMs: number;
  /** bisections between each side's last step within the limit and its first past it */
  refinements: number;
  /** a step with more failed jobs than this share is the last too */
  maxErrorShare: number;
  /**
   * A step past the limit while other work used more than this much of the machine (% of one
   * core, beside the bench's own processes) is run again, up to `disturbedRetries` times: one
   * step disturbed by another process would otherwise end a side's search.
   */
  maxOtherPercent: number;
  disturbedRetries: number;
  prompt: string;
  timeoutMs: number;
}

export interface StepResult {
  streams: number;
  /** tokens received by clients per second during the window */
  tokensPerSecond: number;
  /** time to first delta of the jobs started during the window */
  ttfd: Summary;
  jobs: number;
  errors: number;
  firstError?: string;
  /** jobs whose streamed token count differs from the server's completion_tokens */
  tokenMismatches: number;
  /** p50/p99 of each step of the way, for runners that report them */
  stages: string;
  cpu?: string;
  /** what other work used the machine during the window, % of one core */
  otherPercent?: number;
  /** % of one core by process during the window */
  cpuPercents?: Record<string, number>;
  /** CPU of every process (bench, simulator, API, worker, Redis) per 1,000 delivered tokens, core-ms */
  cpuMsPerKiloToken?: number;
}

export interface SaturationResult {
  steps: StepResult[];
  /** the most tokens/s among steps within the latency limit; else the first step, marked */
  best?: StepResult;
  /** no step stayed within the limit: `best` is the first step, reported for what it is */
  overLimit: boolean;
}

export interface CpuProbe {
  begin(): Promise<void>;
  end(): Promise<{ text: string; totalPercent: number; otherPercent: number; percents: Record<string, number> }>;
}

async function runStep(runner: StreamRunner, streams: number, settings: SaturationSettings, cpu?: CpuProbe): Promise<StepResult> {
  const start = performance.now();
  const windowStart = start + settings.rampMs;
  const windowEnd = windowStart + settings.windowMs;
  const abort = new AbortController();
  setMaxListeners(0, abort.signal); // every request of the step listens to it
  const stages = new StageRecorder();
  const ttfd: number[] = [];
  let tokens = 0;
  let jobs = 0;
  let errors = 0;
  let tokenMismatches = 0;
  let firstError: string | undefined;
  const onTokens = (count: number, at: number) => {
    if (at >= windowStart && at < windowEnd) tokens += count;
  };

  const loop = async (index: number) => {
    await sleep((index * settings.rampMs) / streams);
    let n = 0;
    while (performance.now() < windowEnd && !abort.signal.aborted) {
      const result = await runner.run(`${settings.prompt} stream ${index} #${n++}`, { onTokens, signal: abort.signal, timeoutMs: settings.timeoutMs });
      if (result.startedAt < windowStart || result.startedAt >= windowEnd) continue;
      jobs++;
      if (result.reportedTokens !== undefined && result.reportedTokens !== result.tokens) tokenMismatches++;
      if (result.ok && result.firstDeltaAt !== undefined) {
        ttfd.push(result.firstDeltaAt - result.startedAt);
        stages.add(result);
      } else if (!abort.signal.aborted) {
        errors++;
        firstError ??= result.error;
      }
    }
  };

  const loops = Promise.all(Array.from({ length: streams }, (_, index) => loop(index)));
  await sleep(settings.rampMs);
  await cpu?.begin();
  await sleep(Math.max(0, windowEnd - performance.now()));
  const cpuReading = await cpu?.end();
  const drained = await Promise.race([loops.then(() => true), sleep(settings.drainMs).then(() => false)]);
  if (!drained) {
    abort.abort();
    await loops;
    await runner.settle?.(15_000);
  }
  const tokensPerSecond = tokens / (settings.windowMs / 1000);
  return {
    streams,
    tokensPerSecond,
    ttfd: summarize(ttfd),
    jobs,
    errors,
    firstError,
    tokenMismatches,
    stages: stages.describe(),
    cpu: cpuReading?.text,
    otherPercent: cpuReading?.otherPercent,
    cpuPercents: cpuReading?.percents,
    cpuMsPerKiloToken: cpuReading && tokensPerSecond > 0 ? (cpuReading.totalPercent * 10) / (tokensPerSecond / 1000) : undefined,
  };
}

/**
 * Figure (b): raise the number of concurrent streams step by step until the p50 time to first
 * delta passes the limit, then bisect around the crossing; the figure is the best delivered
 * tokens/s of a step within it. The runners take turns at each step, so drift on the machine
 * falls on both alike.
 */
export async function saturate(
  runners: StreamRunner[],
  settings: SaturationSettings,
  options: { cpu?: CpuProbe; onStep?: (runner: string, step: StepResult, note?: string) => void } = {},
): Promise<Map<string, SaturationResult>> {
  const steps = new Map<string, StepResult[]>(runners.map((runner) => [runner.name, []]));
  const withinLimit = (step: StepResult) => step.ttfd.p50 <= settings.p50LimitMs && step.errors <= step.jobs * settings.maxErrorShare;
  const disturbed = (step: StepResult) => !withinLimit(step) && (step.otherPercent ?? 0) > settings.maxOtherPercent;
  /** A step, run again while it is past the limit only with other work on the machine (every run is reported). */
  const judgedStep = async (runner: StreamRunner, streams: number): Promise<StepResult> => {
    let step = await runStep(runner, streams, settings, options.cpu);
    for (let retry = 0; retry < settings.disturbedRetries && disturbed(step); retry++) {
      options.onStep?.(runner.name, step, 'disturbed by other work: run again');
      step = await runStep(runner, streams, settings, options.cpu);
    }
    return step;
  };
  let active = runners;
  for (const [index, streams] of settings.steps.entries()) {
    // Alternating which side goes first, so that neither always gets the machine fresh (or tired).
    for (const runner of index % 2 ? [...active].reverse() : active) {
      const step = await judgedStep(runner, streams);
      steps.get(runner.name)!.push(step);
      options.onStep?.(runner.name, step);
    }
    active = active.filter((runner) => withinLimit(steps.get(runner.name)!.at(-1)!));
    if (active.length === 0) break;
  }
  // The steps are √2 apart, so two sides a little apart in truth can land a whole step apart.
  // Bisect (geometrically) between each side's last step within the limit and its first past it.
  for (let round = 0; round < settings.refinements; round++) {
    for (const runner of round % 2 ? runners : [...runners].reverse()) {
      const list = steps.get(runner.name)!;
      const below = list.filter(withinLimit).reduce((top, step) => Math.max(top, step.streams), 0);
      const above = list.filter((step) => !withinLimit(step)).reduce((low, step) => Math.min(low, step.streams), Number.POSITIVE_INFINITY);
      const middle = Math.round(Math.sqrt(below * above));
      if (!below || !Number.isFinite(above) || middle <= below || middle >= above) continue;
      const step = await judgedStep(runner, middle);
      list.push(step);
      options.onStep?.(runner.name, step);
    }
  }
  const results = new Map<string, SaturationResult>();
  for (const [name, list] of steps) {
    list.sort((a, b) => a.streams - b.streams);
    const best = list.filter(withinLimit).reduce<StepResult | undefined>((top, step) => (!top || step.tokensPerSecond > top.tokensPerSecond ? step : top), undefined);
    results.set(name, { steps: list, best: best ?? list[0], overLimit: !best });
  }
  return results;
}
