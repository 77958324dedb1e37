import { SimulatorError } from './simulator-error.js';
import type { SimulatorOptions } from './server.js';

/** Where and how `npm run simulator` runs. */
export interface SimulatorSettings {
  /** SIMULATOR_PORT, default 4010; 0 takes a free port. */
  port: number;
  /** SIMULATOR_HOST, default 127.0.0.1. */
  host: string;
  options: SimulatorOptions;
}

export class SimulatorEnvError extends SimulatorError {
  constructor(message: string) {
    super('invalid_simulator_env', message);
  }
}

/** Reads the SIMULATOR_* variables; the CLI passes process.env, tests their own. */
export function readSimulatorSettings(env: NodeJS.ProcessEnv): SimulatorSettings {
  return {
    port: integer(env, 'SIMULATOR_PORT', 4010, 65535) as number,
    host: env.SIMULATOR_HOST?.trim() || '127.0.0.1',
    options: {
      ttftMs: integer(env, 'SIMULATOR_TTFT_MS', 200),
      tokensPerSecond: integer(env, 'SIMULATOR_TOKENS_PER_SECOND', 50),
      rpm: integer(env, 'SIMULATOR_RPM', undefined),
      tpm: integer(env, 'SIMULATOR_TPM', undefined),
      name: env.SIMULATOR_NAME?.trim() || undefined,
      faultStatus: status(env, 'SIMULATOR_FAULT_STATUS'),
      breakAfter: integer(env, 'SIMULATOR_BREAK_AFTER', undefined),
      models: list(env.SIMULATOR_MODELS),
      batchDelayMs: integer(env, 'SIMULATOR_BATCH_DELAY_MS', 10_000),
    },
  };
}

/** `a,b,c` as a list; unset or empty: undefined. */
function list(value: string | undefined): string[] | undefined {
  const items = (value ?? '').split(',').map((item) => item.trim()).filter(Boolean);
  return items.length ? items : undefined;
}

function status(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const value = integer(env, name, undefined, 599);
  if (value !== undefined && value < 400) throw new SimulatorEnvError(`${name} must be an HTTP error status (400..599), got "${env[name]}".`);
  return value;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number | undefined, max = Number.MAX_SAFE_INTEGER) {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new SimulatorEnvError(`${name} must be a whole number between 0 and ${max}, got "${raw}".`);
  }
  return value;
}
