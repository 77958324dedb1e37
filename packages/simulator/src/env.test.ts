import { describe, expect, it } from 'vitest';
import { readSimulatorSettings, SimulatorEnvError } from './env.js';

describe('readSimulatorSettings', () => {
  it('has the CLI defaults', () => {
    expect(readSimulatorSettings({})).toEqual({
      port: 4010,
      host: '127.0.0.1',
      options: { ttftMs: 200, tokensPerSecond: 50, rpm: undefined, tpm: undefined, batchDelayMs: 10000 },
    });
  });

  it('reads every variable', () => {
    const settings = readSimulatorSettings({
      SIMULATOR_PORT: '0',
      SIMULATOR_HOST: '0.0.0.0',
      SIMULATOR_TTFT_MS: '5',
      SIMULATOR_TOKENS_PER_SECOND: '0',
      SIMULATOR_RPM: '600',
      SIMULATOR_TPM: '90000',
      SIMULATOR_BATCH_DELAY_MS: '250',
    });
    expect(settings).toEqual({ port: 0, host: '0.0.0.0', options: { ttftMs: 5, tokensPerSecond: 0, rpm: 600, tpm: 90000, batchDelayMs: 250 } });
  });

  it('reads an instance of several: its name, faults and models', () => {
    const settings = readSimulatorSettings({ SIMULATOR_NAME: 'a', SIMULATOR_FAULT_STATUS: '503', SIMULATOR_BREAK_AFTER: '5', SIMULATOR_MODELS: 'gpt-4o, gpt-4o-mini' });
    expect(settings.options).toMatchObject({ name: 'a', faultStatus: 503, breakAfter: 5, models: ['gpt-4o', 'gpt-4o-mini'] });
    expect(() => readSimulatorSettings({ SIMULATOR_FAULT_STATUS: '200' })).toThrow(/SIMULATOR_FAULT_STATUS/);
  });

  it('rejects what is not a whole number', () => {
    expect(() => readSimulatorSettings({ SIMULATOR_RPM: 'lots' })).toThrow(SimulatorEnvError);
    expect(() => readSimulatorSettings({ SIMULATOR_PORT: '70000' })).toThrow(/SIMULATOR_PORT/);
  });
});
