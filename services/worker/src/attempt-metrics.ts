import type { Job } from 'bullmq';
import type { JobResult } from '@spool/contracts';
import type { JobRecord } from '@spool/jobs';
import { classifyUpstreamError } from '@spool/llm';
import type { Metrics } from '@spool/metrics';

/** The `status` label of an upstream call: its HTTP status, else what kept it from having one. */
function upstreamStatus(error?: unknown): string {
  if (error === undefined) return '200';
  const classified = classifyUpstreamError(error);
  if (classified.status) return String(classified.status);
  if (classified.code === 'upstream_timeout') return 'timeout';
  if (classified.code === 'interrupted') return 'aborted';
  return 'error';
}

const seconds = (fromMs: number) => Math.max(0, Date.now() - fromMs) / 1000;

/** What one attempt of a chat job adds to the worker's metrics; every call is a no-op without metrics. */
export class AttemptMetrics {
  private upstreamStartedAt: number | undefined;
  private upstream = 'default';
  private sawText = false;

  constructor(
    private readonly metrics: Metrics | undefined,
    private readonly bullJob: Pick<Job, 'timestamp'>,
  ) {}

  /** Earlier attempts already streamed text: this one's first token is not the job's. */
  continuing(): void {
    this.sawText = true;
  }

  upstreamStarted(upstream: string): void {
    this.upstreamStartedAt = Date.now();
    this.upstream = upstream;
  }

  /** Once per call, whichever comes first: the stream's end or the error that ended it. */
  upstreamEnded(error?: unknown): void {
    if (!this.metrics || this.upstreamStartedAt === undefined) return;
    const status = upstreamStatus(error);
    this.metrics.upstreamRequests.inc({ upstream: this.upstream, status });
    this.metrics.upstreamDuration.observe({ status }, seconds(this.upstreamStartedAt));
    this.upstreamStartedAt = undefined;
  }

  delta(): void {
    if (this.sawText) return;
    this.sawText = true;
    this.metrics?.timeToFirstToken.observe(seconds(this.bullJob.timestamp));
  }

  /** `spentTokens` false: the result came without an upstream call of this job's (cache, merging), and its tokens are not counted again. */
  succeeded(result: JobResult, record: Pick<JobRecord, 'tenant' | 'model'>, spentTokens = true): void {
    if (!this.metrics) return;
    this.metrics.jobDuration.observe({ status: 'succeeded' }, seconds(this.bullJob.timestamp));
    if (!spentTokens) return;
    const labels = { tenant: record.tenant, model: record.model };
    this.metrics.tokens.inc({ ...labels, type: 'prompt' }, result.usage.prompt_tokens);
    this.metrics.tokens.inc({ ...labels, type: 'completion' }, result.usage.completion_tokens);
  }

  failed(): void {
    this.metrics?.jobDuration.observe({ status: 'failed' }, seconds(this.bullJob.timestamp));
  }

  retried(code: string): void {
    this.metrics?.retries.inc({ code });
  }

  rateLimited(pauseMs: number): void {
    this.metrics?.upstreamRateLimited.inc();
    this.metrics?.upstreamPausedSeconds.inc(pauseMs / 1000);
  }
}
