import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU time of a process in ms from /proc, or NaN once it is gone (or not on Linux). */
function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND; // utime, stime
  } catch {
    return Number.NaN;
  }
}

/** CPU time of the whole machine (every core, every process) in ms from /proc/stat, or NaN off Linux. */
function machineCpuMs(): number {
  try {
    const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return ((user + nice + system + irq + softirq + steal) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

async function redisCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const value = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
  return (value('used_cpu_user') + value('used_cpu_sys')) * 1000;
}

export interface CpuReading {
  text: string;
  totalPercent: number;
  /** what the rest of the machine used meanwhile, % of one core (NaN when unknown) */
  otherPercent: number;
  /** % of one core by process name (`bench`, each child's name, `redis`) */
  percents: Record<string, number>;
}

export interface CpuTarget {
  name: string;
  pid: number;
}

/**
 * Where the CPU went during a phase, in % of one core, for the bench itself, each child and
 * Redis: on two cores this says which process saturates first.
 */
export class CpuMeter {
  private startWall = 0;
  private start: number[] = [];

  constructor(
    private readonly targets: () => CpuTarget[],
    private readonly redis: Redis,
  ) {}

  private async sample(): Promise<number[]> {
    const own = process.cpuUsage();
    return [
      (own.user + own.system) / 1000,
      ...this.targets().map((target) => processCpuMs(target.pid)),
      await redisCpuMs(this.redis).catch(() => Number.NaN),
      machineCpuMs(),
    ];
  }

  async begin(): Promise<void> {
    this.start = await this.sample();
    this.startWall = performance.now();
  }

  /**
   * `bench 95%, simulator 40%, ..., redis 30% (other work on the machine 5%)` since `begin()`, and
   * the sum of the measured ones (200% = both cores). Redis's share counts every client of it.
   */
  async end(): Promise<CpuReading> {
    const end = await this.sample();
    const wall = performance.now() - this.startWall;
    const names = ['bench', ...this.targets().map((target) => target.name), 'redis'];
    const percents = names.map((_, index) => ((end[index] - this.start[index]) / wall) * 100);
    const totalPercent = percents.filter(Number.isFinite).reduce((sum, percent) => sum + percent, 0);
    // What the rest of the machine used meanwhile: other work on the cores moves every figure.
    const otherPercent = ((end[names.length] - this.start[names.length]) / wall) * 100 - totalPercent;
    const shown = (percent: number) => (Number.isFinite(percent) ? `${Math.round(percent)}%` : '?');
    return {
      text: `${names.map((name, index) => `${name} ${shown(percents[index])}`).join(', ')} (other work on the machine ${shown(Math.max(0, otherPercent))})`,
      totalPercent,
      otherPercent: Math.max(0, otherPercent),
      percents: Object.fromEntries(names.map((name, index) => [name, percents[index]])),
    };
  }
}
