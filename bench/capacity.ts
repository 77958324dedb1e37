import type { StepResult } from './saturation.js';
import type { Row } from './report.js';

const PROCESSES = [
  { name: 'worker', what: 'one worker core (upstream calls, appends to Redis)' },
  { name: 'api', what: 'one API process core (SSE to one watcher each)' },
  { name: 'redis', what: 'one Redis core (shard): logs, pub/sub, queue, scheduler' },
];

/**
 * The capacity notes: how many streams each kind of process carries per core, from the CPU each
 * used at (b)'s best Spool step (streams ÷ the share of a core it took). A process at 50% of a
 * core for 300 streams carries about 600 per core, if nothing else is the limit.
 */
export function capacityRows(step: StepResult | undefined, tokensPerStream: number): Row[] {
  if (!step?.cpuPercents) return [];
  return PROCESSES.flatMap(({ name, what }) => {
    const percent = step.cpuPercents?.[name];
    if (!percent || !Number.isFinite(percent)) return [];
    const perCore = step.streams / (percent / 100);
    return [
      {
        figure: `capacity: ${tokensPerStream} tok/s streams per ${what}`,
        spool: `≈ ${Math.round(perCore).toLocaleString('en-US')} streams (${Math.round(perCore * tokensPerStream).toLocaleString('en-US')} tok/s)`,
        baseline: `${Math.round(percent)}% of a core at (b)'s ${step.streams} streams`,
        comparison: '',
        goal: '—',
      },
    ];
  });
}
