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

async function redisCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const value = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
  return (value('used_cpu_user') + value('used_cpu_sys')) * 1000;
}

export interface CpuReading {
  text: string;
  totalPercent: number;
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
    ];
  }

  async begin(): Promise<void> {
    this.start = await this.sample();
    this.startWall = performance.now();
  }

  /** `bench 95%, simulator 40%, ..., redis 30%` since `begin()`, and the sum (200% = both cores). */
  async end(): Promise<CpuReading> {
    const end = await this.sample();
    const wall = performance.now() - this.startWall;
    const names = ['bench', ...this.targets().map((target) => target.name), 'redis'];
    const percents = names.map((_, index) => ((end[index] - this.start[index]) / wall) * 100);
    return {
      text: names.map((name, index) => `${name} ${Number.isFinite(percents[index]) ? Math.round(percents[index]) : '?'}%`).join(', '),
      totalPercent: percents.filter(Number.isFinite).reduce((sum, percent) => sum + percent, 0),
      percents: Object.fromEntries(names.map((name, index) => [name, percents[index]])),
    };
  }
}
