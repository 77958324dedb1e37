import { describe, expect, it } from 'vitest';
import { batchInputLine, readBatchOutputLine } from './provider-batch-lines.js';

const usage = { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 };
const output = (customId: string, response: unknown, error: unknown = null) => JSON.stringify({ id: 'batch_req_1', custom_id: customId, response, error });
const completion = { object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'Hi there.' }, finish_reason: 'stop' }], usage };

describe('batch input and output lines', () => {
  it('writes a request as a line of OpenAI batch file, custom_id the job id, model as the upstream names it', () => {
    const line = JSON.parse(batchInputLine('job_1', { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], temperature: 0 }, 'deployment-4o'));
    expect(line).toEqual({ custom_id: 'job_1', method: 'POST', url: '/v1/chat/completions', body: { model: 'deployment-4o', messages: [{ role: 'user', content: 'hi' }], temperature: 0 } });
  });

  it('reads a 200 as the result: content, finish_reason, usage', () => {
    expect(readBatchOutputLine(output('job_1', { status_code: 200, request_id: 'req_1', body: completion }))).toEqual({
      kind: 'succeeded',
      customId: 'job_1',
      result: { content: 'Hi there.', finish_reason: 'stop', usage },
    });
  });

  it('reads another status as its live error: 5xx and 429 retryable, 400 and insufficient_quota not', () => {
    const failed = (status: number, error: Record<string, unknown> = {}) => {
      const outcome = readBatchOutputLine(output('job_2', { status_code: status, body: { error: { message: 'nope', type: 'x', param: null, code: null, ...error } } }));
      if (outcome?.kind !== 'failed') throw new Error('expected a failure');
      return [outcome.error.code, outcome.error.retryable, outcome.error.status];
    };
    expect(failed(500)).toEqual(['upstream_error', true, 500]);
    expect(failed(429, { code: 'rate_limit_exceeded' })).toEqual(['upstream_rate_limited', true, 429]);
    expect(failed(400)).toEqual(['invalid_upstream_request', false, 400]);
    expect(failed(429, { code: 'insufficient_quota' })).toEqual(['insufficient_quota', false, 429]);
  });

  it('reads a request that never ran (expired) as retryable, and ignores what is not a line', () => {
    const expired = readBatchOutputLine(output('job_3', null, { code: 'batch_expired', message: 'too late' }));
    expect(expired).toMatchObject({ kind: 'failed', customId: 'job_3', error: { retryable: true } });
    expect(readBatchOutputLine('not json')).toBeUndefined();
    expect(readBatchOutputLine('{"response": {}}')).toBeUndefined();
  });

  it('counts the reply when upstream reported no usage', () => {
    const outcome = readBatchOutputLine(output('job_4', { status_code: 200, body: { choices: [{ message: { content: 'one two' }, finish_reason: 'length' }] } }));
    expect(outcome).toMatchObject({ kind: 'succeeded', result: { content: 'one two', finish_reason: 'length', usage: { prompt_tokens: 0, completion_tokens: 2, total_tokens: 2 } } });
  });
});
