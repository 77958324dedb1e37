import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSimulator, type ChatMessage, type Simulator, type SimulatorOptions } from '@spool/simulator';
import { startStack, type Stack, type StackOptions } from './stack.js';

/** One upstream of a test pool: a simulator of its own (named after it) and the upstream's entry in SPOOL_CONFIG. */
export interface PoolUpstream {
  name: string;
  simulator?: SimulatorOptions;
  /** the rest of its `upstreams[]` entry (models, weight, rpm, model_map, ...); base_url is the simulator's, api_key `sk-test` unless given (undefined: none) */
  settings?: Record<string, unknown>;
}

export interface PoolStackOptions extends Omit<StackOptions, 'simulator'> {
  upstreams: PoolUpstream[];
  /** SPOOL_CONFIG's `models` */
  models?: Record<string, unknown>;
  /** SPOOL_CONFIG's `tenants` */
  tenants?: Record<string, unknown>;
}

/** A call that reached one of the pool's simulators. */
export interface PoolCall {
  upstream: string;
  model: string;
  /** ms since the epoch, when this process saw it */
  at: number;
  messages: ChatMessage[];
  /** the request's headers, names in lower case */
  headers: Record<string, string | string[] | undefined>;
}

export interface PoolStack extends Stack {
  simulators: Map<string, Simulator>;
  /** every chat completion call each simulator received, in order */
  calls: PoolCall[];
  /** the SPOOL_CONFIG file written for it */
  configPath: string;
}

/**
 * A stack whose workers call a pool of upstreams, each a simulator of its own on 127.0.0.1,
 * described by a SPOOL_CONFIG file written for the test (and removed with the stack).
 */
export async function startPoolStack(options: PoolStackOptions): Promise<PoolStack> {
  const dir = mkdtempSync(join(tmpdir(), 'spool-pool-'));
  const simulators = new Map<string, Simulator>();
  const calls: PoolCall[] = [];
  try {
    const upstreams = [];
    for (const upstream of options.upstreams) {
      const simulator = createSimulator({ name: upstream.name, ...upstream.simulator });
      simulators.set(upstream.name, simulator);
      const url = await simulator.listen(0);
      simulator.events.on('request', (event: Omit<PoolCall, 'upstream' | 'at'>) =>
        calls.push({ upstream: upstream.name, model: event.model, at: Date.now(), messages: event.messages, headers: event.headers }),
      );
      upstreams.push({ name: upstream.name, base_url: url, api_key: 'sk-test', ...upstream.settings });
    }
    const configPath = join(dir, 'spool.json');
    writeFileSync(configPath, JSON.stringify({ upstreams, ...(options.models && { models: options.models }), ...(options.tenants && { tenants: options.tenants }) }, null, 2));
    const stack = await startStack({ ...options, env: { SPOOL_CONFIG: configPath, ...options.env } });
    return {
      ...stack,
      simulators,
      calls,
      configPath,
      async close() {
        await stack.close();
        await Promise.all([...simulators.values()].map((simulator) => simulator.close()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await Promise.all([...simulators.values()].map((simulator) => simulator.close()));
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
