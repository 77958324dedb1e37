import { describe, expect, it } from 'vitest';
import { parseJobRecord, renderJob } from '@spool/jobs';
import { useStack } from '../../../test/support/stack.js';
import { postJson } from '../../../test/support/http.js';
import { cancelJob } from './cancel-job.js';

describe('cancelJob', () => {
  const stack = useStack({ workers: 0 });

  it('answers, and ends the log with, the job as recorded when a worker started it after the caller read it', async () => {
    const job = (await postJson(`${stack.url}/v1/jobs`, { messages: [{ role: 'user', content: 'raced' }] })).body;
    const { jobs } = stack.api.deps;
    const readBeforeStart = (await jobs.get(job.id))!;
    expect((await jobs.start(job.id, 'a-worker')).state).toBe('started');

    const cancelled = await cancelJob(stack.api.deps, job.id, readBeforeStart);
    expect(cancelled).toMatchObject({ status: 'cancelled', attempts: 1 });
    expect(cancelled.started_at).not.toBeNull();
    expect(cancelled).toEqual(renderJob(job.id, parseJobRecord((await jobs.get(job.id))!)));
    const done = (await stack.api.deps.log.readAfter(job.id, 0)).at(-1)!;
    expect(done.event).toBe('done');
    expect(JSON.parse(done.data)).toEqual(cancelled);
  });
});
