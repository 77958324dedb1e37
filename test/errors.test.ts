/** STYLE.md "Errors": one root class per package, each error with a stable `code` and the original `cause`. */
import { describe, expect, it } from 'vitest';
import { ApiError, SpoolError } from '@spool/contracts';
import { ConfigError, loadConfig } from '@spool/config';
import { JobsError, TenantQuotaError } from '@spool/jobs';
import { UpstreamError, classifyUpstreamError } from '@spool/llm';
import { StoreError, StoreUnavailableError } from '@spool/store';
import { WebhookUrlError } from '@spool/webhooks';
import { DirectiveError, SimulatorEnvError, SimulatorError, readSimulatorSettings } from '@spool/simulator';
import { CliError } from '@spool/cli';
import { LostOwnershipError, UpstreamGateError, WorkerError, WorkerStopTimeoutError } from '@spool/worker';

const cause = new Error('the original');

describe('error classes', () => {
  it.each([
    ['contracts', ApiError.invalid('bad', 'model'), ApiError, 'invalid_value'],
    ['config', new ConfigError('bad', { cause }), ConfigError, 'invalid_config'],
    ['jobs', new TenantQuotaError('jobs', 3), JobsError, 'tenant_quota_exceeded'],
    ['llm', classifyUpstreamError(cause), UpstreamError, 'upstream_error'],
    ['store', new StoreError('bad', { cause }), StoreError, 'store_error'],
    ['store', new StoreUnavailableError(undefined, { cause }), StoreError, 'store_unavailable'],
    ['webhooks', new WebhookUrlError('invalid_url', 'bad', { cause }), WebhookUrlError, 'invalid_url'],
    ['simulator', new DirectiveError('bad'), SimulatorError, 'invalid_directive'],
    ['cli', new CliError('bad', { cause }), CliError, 'cli_error'],
    ['worker', new UpstreamGateError(cause), WorkerError, 'upstream_gate_unavailable'],
    ['worker', new LostOwnershipError('job_1'), WorkerError, 'lost_ownership'],
    ['worker', new WorkerStopTimeoutError(10), WorkerError, 'stop_timed_out'],
  ] as const)('%s: %s is a SpoolError under its package root, with its code', (_, error, root, code) => {
    expect(error).toBeInstanceOf(root);
    expect(error).toBeInstanceOf(SpoolError);
    expect(error.code).toBe(code);
    expect(error.name).toBe(error.constructor.name);
  });

  it('keeps the original error as cause', () => {
    for (const error of [new ConfigError('bad', { cause }), classifyUpstreamError(cause), new StoreError('bad', { cause }), new UpstreamGateError(cause), new CliError('bad', { cause })]) {
      expect(error.cause).toBe(cause);
    }
  });

  it('thrown by the packages themselves', () => {
    expect(() => loadConfig({ PORT: 'x' })).toThrow(ConfigError);
    expect(() => readSimulatorSettings({ SIMULATOR_PORT: 'x' })).toThrow(SimulatorEnvError);
  });
});
