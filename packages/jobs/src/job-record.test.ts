import { describe, expect, it } from 'vitest';
import { parseJobRecord, renderJob } from './job-record.js';

const request = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }] };
const queued = { tenant: 'acme', status: 'queued', attempts: '0', created_at: '1700000000', model: 'gpt-4o-mini', priority: '5', metadata: '{"team":"a"}', request: JSON.stringify(request), on_interrupt: 'continue' };

describe('parseJobRecord', () => {
  it('types every field of a queued job’s hash, absent ones null or their default', () => {
    expect(parseJobRecord(queued)).toEqual({
      tenant: 'acme',
      status: 'queued',
      model: 'gpt-4o-mini',
      created_at: 1_700_000_000,
      started_at: null,
      finished_at: null,
      attempts: 0,
      priority: 5,
      session_id: null,
      batch_id: null,
      continues: null,
      metadata: { team: 'a' },
      request,
      on_interrupt: 'continue',
      webhook_url: null,
      custom_id: null,
      deferrals: 0,
      est_tokens: 0,
      upstream_status: null,
      stream_end: null,
      traceparent: null,
      queued_at_ms: null,
      result: null,
      partial: null,
      error: null,
      attempt_log: [],
      cached: false,
      cache: null,
      merged_with: null,
      cost_nusd: 0,
      billed_requests: 0,
      billed_prompt_tokens: 0,
      billed_completion_tokens: 0,
      cost_month: null,
    });
  });

  it('parses an ended job’s JSON fields and counters', () => {
    const result = { content: 'hello', finish_reason: 'stop', usage: { prompt_tokens: 9, completion_tokens: 1, total_tokens: 10 } };
    const attemptLog = [
      { attempt: 1, upstream: 'a', model: 'gpt-4o-mini', started_at: 1_700_000_001, ended_at: 1_700_000_002, outcome: 'failed', error_code: 'upstream_error' },
    ];
    const record = parseJobRecord({
      ...queued,
      status: 'failed',
      started_at: '1700000001',
      finished_at: '1700000002',
      attempts: '2',
      deferrals: '3',
      on_interrupt: 'restart',
      session_id: 'sess_1',
      custom_id: 'req-1',
      webhook_url: 'https://example.test/hook',
      upstream_status: '500',
      result: JSON.stringify(result),
      partial: '{"content":"he","completion_tokens":1}',
      error: '{"code":"server_error","message":"boom"}',
      attempt_log: JSON.stringify(attemptLog),
      cached: '1',
      cache: '{"hash":"ab","ttl_s":60}',
      merged_with: 'job_0',
      cost_nusd: '2500150',
      billed_requests: '2',
      cost_month: '2031-05',
    });
    expect(record).toMatchObject({ started_at: 1_700_000_001, finished_at: 1_700_000_002, attempts: 2, deferrals: 3, on_interrupt: 'restart', session_id: 'sess_1', custom_id: 'req-1', upstream_status: 500, result, cache: { hash: 'ab', ttl_s: 60 }, merged_with: 'job_0', cost_nusd: 2_500_150, billed_requests: 2, cost_month: '2031-05' });
    expect(renderJob('job_1', record)).toEqual({
      id: 'job_1',
      object: 'job',
      status: 'failed',
      model: 'gpt-4o-mini',
      created_at: 1_700_000_000,
      started_at: 1_700_000_001,
      finished_at: 1_700_000_002,
      attempts: 2,
      priority: 5,
      session_id: 'sess_1',
      batch_id: null,
      continues: null,
      metadata: { team: 'a' },
      stream_url: '/v1/jobs/job_1/events',
      result,
      partial: { content: 'he', completion_tokens: 1 },
      error: { code: 'server_error', message: 'boom' },
      attempt_log: attemptLog,
      cached: true,
      cost_usd: 0.00250015,
    });
  });

  it('takes a request the caller parsed already instead of parsing the hash’s copy', () => {
    const streamEnd = { finish_reason: 'stop', usage: { prompt_tokens: 9, completion_tokens: 1, total_tokens: 10 } };
    const record = parseJobRecord({ ...queued, request: 'not parsed', stream_end: JSON.stringify(streamEnd) }, request);
    expect(record).toEqual({ ...parseJobRecord(queued), stream_end: streamEnd });
    expect(record.request).toBe(request);
  });
});
