import type { Logger } from 'pino';
import { costUsd, type Config, type UpstreamSettings } from '@spool/config';
import { isTerminal } from '@spool/contracts';
import type { BatchFields, BatchRepository, JobCache, JobRepository, ResponseCache } from '@spool/jobs';
import type { Metrics } from '@spool/metrics';
import { batchInputLine, lacksBatchApi, PROVIDER_BATCH_ENDED, readBatchOutputLine, UpstreamError, type ProviderBatch, type ProviderBatchClient } from '@spool/llm';
import type { FairScheduler, Keys, RedisClient } from '@spool/queue';
import { retryDelayMs } from './backoff.js';
import { endFromProvider } from './provider-job-end.js';
import type { ProviderBatchState, ProviderBatchStates } from './provider-batch-state.js';

export type PollerConfig = Pick<Config, 'upstreams' | 'models' | 'maxAttempts' | 'backoffMs' | 'providerBatchPollMs'>;

export interface ProviderBatchPollerDeps {
  config: PollerConfig;
  logger: Logger;
  redis: RedisClient;
  keys: Keys;
  jobs: JobRepository;
  batches: BatchRepository;
  states: ProviderBatchStates;
  /** where requests that run live after all go: their tenant's line */
  scheduler: FairScheduler;
  /** the Batch API client of an upstream */
  clientFor(upstream: UpstreamSettings): ProviderBatchClient;
  /** this process's metrics: the tokens of the jobs it ends */
  metrics?: Metrics;
  /** the response cache: a request with `cache` whose reply it holds is answered from it, not sent upstream */
  cache?: ResponseCache;
  /**
   * How long an upstream batch is polled, at most, before it is given up on (cancelled upstream,
   * its requests run live), ms; default 25 h: OpenAI's 24 h window and an hour's grace, so that an
   * upstream whose batch never ends cannot hold the requests for good.
   */
  deadlineMs?: number;
}

/** What the poller's queue entry does next: nothing more, or run again after `delayMs`. */
export type Step = { next: 'done' } | { next: 'wait'; delayMs: number };

const DONE: Step = { next: 'done' };
const wait = (delayMs: number): Step => ({ next: 'wait', delayMs });

/** Upstream failures in a row before the batch's requests run live instead. */
const MAX_FAILURES = 8;
/** The longest wait between two polls. */
const MAX_POLL_MS = 10 * 60_000;
/** How long an upstream that answered 404 to its Batch API is taken to have none. */
const UNSUPPORTED_TTL_SECONDS = 3600;
/** Job ids read per round trip. */
const PAGE = 1000;
/** Output lines whose jobs are ended at once. */
const LINES_IN_FLIGHT = 32;
/** Past this, an upstream batch that has not ended is given up on. */
const DEADLINE_MS = 25 * 3600_000;
/** The metadata key that ties an upstream batch to its Spool batch. */
export const SPOOL_BATCH_KEY = 'spool_batch_id';

/**
 * Drives one provider-mode batch through the upstream's Batch API, a step per run of its queue
 * entry: upload the input file, create the upstream batch, poll it (waiting twice as long each
 * time, from SPOOL_PROVIDER_BATCH_POLL_MS up to 10 min), then read the output and error files and
 * end each job with its line. Whatever does not end that way (retryable line errors, a batch that
 * failed, expired or was cancelled upstream, an upstream that keeps failing) runs as live jobs.
 * Every step starts from the state in Redis, so any worker can take a batch over.
 */
export class ProviderBatchPoller {
  constructor(private readonly deps: ProviderBatchPollerDeps) {}

  async step(batchId: string): Promise<Step> {
    const { batches, states, config } = this.deps;
    const batch = await batches.get(batchId);
    // Gone (expired, rolled back), or run live already.
    if (!batch || batch.mode !== 'provider') return DONE;
    let state = await states.get(batchId);
    if (state.phase === 'done') return DONE;
    const logger = this.deps.logger.child({ batch_id: batchId, upstream: batch.upstream });
    const upstream = config.upstreams.find((candidate) => candidate.name === batch.upstream);
    if (!upstream) {
      logger.warn('provider batch: its upstream is no longer configured; its requests run live');
      return this.runLive(batchId, state);
    }
    const client = this.deps.clientFor(upstream);
    try {
      // Cancelled (or every request ended on its own): the upstream batch has nothing left to do.
      if (batch.status !== 'in_progress') return await this.stop(batchId, state, client);
      if (state.phase === 'upload') {
        const input = await this.inputFile(batchId, upstream);
        if (input.count === 0) return await this.finishState(batchId, state);
        const fileId = await client.uploadFile(input.text, `${batchId}.jsonl`);
        state = await states.update(batchId, state, { phase: 'create', fileId, failures: 0 });
        logger.info({ file_id: fileId, requests: input.count }, 'provider batch: input file uploaded');
      }
      if (state.phase === 'create') {
        const created = await this.create(batchId, state, client);
        await states.update(batchId, state, { phase: 'poll', upstreamBatchId: created.id, creating: false, polls: 0, failures: 0, pollingSince: Date.now() });
        logger.info({ upstream_batch_id: created.id }, 'provider batch: upstream batch created');
        return wait(this.pollDelay(0));
      }
      return await this.poll(batchId, state, client, logger);
    } catch (error) {
      if (!(error instanceof UpstreamError)) throw error;
      return this.failed(batchId, batch, state, client, error, logger);
    }
  }

  /** The queue entry gave up (Redis kept failing): the batch's requests run live. */
  async giveUp(batchId: string): Promise<void> {
    const batch = await this.deps.batches.get(batchId);
    if (batch?.status === 'in_progress') await this.runLive(batchId, await this.deps.states.get(batchId));
  }

  private async create(batchId: string, state: ProviderBatchState, client: ProviderBatchClient): Promise<ProviderBatch> {
    // A worker that died between sending the create and noting its answer left a batch upstream: adopt it, never pay twice.
    const earlier = state.creating ? await client.findBatch(SPOOL_BATCH_KEY, batchId) : undefined;
    if (earlier) return earlier;
    await this.deps.states.update(batchId, state, { creating: true });
    return client.createBatch(state.fileId!, { [SPOOL_BATCH_KEY]: batchId });
  }

  private async poll(batchId: string, state: ProviderBatchState, client: ProviderBatchClient, logger: Logger): Promise<Step> {
    const upstreamBatch = await client.retrieveBatch(state.upstreamBatchId!);
    if (!PROVIDER_BATCH_ENDED.has(upstreamBatch.status)) {
      const pollingSince = state.pollingSince ?? Date.now();
      if (Date.now() - pollingSince >= (this.deps.deadlineMs ?? DEADLINE_MS)) return this.pastDeadline(batchId, state, client, upstreamBatch, logger);
      await this.deps.states.update(batchId, state, { polls: state.polls + 1, failures: 0, pollingSince });
      return wait(this.pollDelay(state.polls + 1));
    }
    logger.info({ upstream_batch_id: upstreamBatch.id, status: upstreamBatch.status, request_counts: upstreamBatch.request_counts }, 'provider batch: upstream batch ended');
    // Expired, failed or cancelled upstream: every request runs live (an expired batch's partial output is not used).
    if (upstreamBatch.status === 'completed') {
      for (const fileId of [upstreamBatch.output_file_id, upstreamBatch.error_file_id]) {
        if (fileId) await this.collect(batchId, client, fileId, logger);
      }
    }
    await this.runLive(batchId, state);
    await this.deleteFiles(client, [state.fileId, upstreamBatch.output_file_id, upstreamBatch.error_file_id]);
    return DONE;
  }

  /** The upstream batch has run past the deadline: it is cancelled (it would be paid for twice) and every request still waiting runs live. */
  private async pastDeadline(batchId: string, state: ProviderBatchState, client: ProviderBatchClient, upstreamBatch: ProviderBatch, logger: Logger): Promise<Step> {
    logger.warn({ upstream_batch_id: upstreamBatch.id, status: upstreamBatch.status, polling_since: state.pollingSince }, 'provider batch: the upstream batch has not ended by its deadline; cancelled, its requests run live');
    await client.cancelBatch(upstreamBatch.id).catch((error: unknown) => logger.warn({ err: error }, 'provider batch: could not cancel the upstream batch'));
    await this.deleteFiles(client, [state.fileId]);
    return this.runLive(batchId, state);
  }

  /** Ends each job of an output or error file with its line; a retryable failure is left for the live run. */
  private async collect(batchId: string, client: ProviderBatchClient, fileId: string, logger: Logger): Promise<void> {
    const discount = (model: string) => this.deps.config.models.get(model)?.batchDiscount ?? 0.5;
    const inFlight = new Set<Promise<void>>();
    const handle = async (text: string) => {
      const line = readBatchOutputLine(text);
      if (!line) return logger.warn('provider batch: an output line that is not one; skipped');
      if (line.kind === 'failed' && line.error.retryable) return;
      const [owner, model, tenant] = await this.deps.redis.hmget(this.deps.keys.job(line.customId), 'batch_id', 'model', 'tenant');
      // Only this batch's jobs: upstream's custom_id is what Spool wrote, but a job is never ended on its word alone.
      if (owner !== batchId || !model || !tenant) return;
      if (line.kind === 'succeeded') {
        const { usage } = line.result;
        const cost = costUsd(this.deps.config.models, model, usage, discount(model));
        // `model`: the model that answered, as a live job's result says (the job's: a provider batch has no fallbacks)
        if (await endFromProvider(this.deps.jobs, line.customId, { status: 'succeeded', result: { ...line.result, model }, costUsd: cost })) {
          this.deps.metrics?.tokens.inc({ tenant, model, type: 'prompt' }, usage.prompt_tokens);
          this.deps.metrics?.tokens.inc({ tenant, model, type: 'completion' }, usage.completion_tokens);
        }
      } else {
        const error = { code: line.error.code, message: line.error.message };
        await endFromProvider(this.deps.jobs, line.customId, { status: 'failed', error, upstreamStatus: line.error.status });
      }
    };
    let failure: unknown;
    // A line too long to hold is dropped: its request runs live.
    const skipped = (chars: number) => logger.warn({ file_id: fileId, chars }, 'provider batch: an output line too long to read; skipped, its request runs live');
    for await (const text of client.fileLines(fileId, skipped)) {
      const work = handle(text).catch((error: unknown) => {
        failure ??= error;
      });
      inFlight.add(work);
      void work.finally(() => inFlight.delete(work));
      if (inFlight.size >= LINES_IN_FLIGHT) await Promise.race(inFlight);
      if (failure) break;
    }
    await Promise.all(inFlight);
    if (failure) throw failure;
  }

  /** The batch was cancelled (or its requests all ended): cancel the upstream batch, if there is one. */
  private async stop(batchId: string, state: ProviderBatchState, client: ProviderBatchClient): Promise<Step> {
    const upstreamBatchId = state.upstreamBatchId ?? (state.creating ? (await client.findBatch(SPOOL_BATCH_KEY, batchId))?.id : undefined);
    if (upstreamBatchId) {
      try {
        await client.cancelBatch(upstreamBatchId);
        this.deps.logger.info({ batch_id: batchId, upstream_batch_id: upstreamBatchId }, 'provider batch: upstream batch cancelled');
      } catch (error) {
        // A batch that already ended cannot be cancelled: nothing to do.
        if (!(error instanceof UpstreamError) || error.retryable) throw error;
      }
    }
    await this.deleteFiles(client, [state.fileId]);
    return this.finishState(batchId, state);
  }

  /** An upstream failure: wait and try again; past MAX_FAILURES, or when it cannot get better, run the requests live. */
  private async failed(batchId: string, batch: BatchFields, state: ProviderBatchState, client: ProviderBatchClient, error: UpstreamError, logger: Logger): Promise<Step> {
    const details = { code: error.code, status: error.status, upstream_message: error.upstreamMessage, phase: state.phase };
    if (batch.status !== 'in_progress') {
      // Cancelling upstream failed: retried while it may work, then left (the upstream batch ends on its own).
      if (error.retryable && state.failures + 1 < MAX_FAILURES) return this.retryLater(batchId, state, error);
      logger.warn(details, 'provider batch: could not cancel the upstream batch');
      return this.finishState(batchId, state);
    }
    if ((state.phase === 'upload' || state.phase === 'create') && lacksBatchApi(error)) {
      logger.warn(details, 'provider batch: the upstream has no Batch API; this batch, and completion_window batches for the next hour, run live');
      await this.deps.redis.set(this.deps.keys.providerBatchUnsupported(batch.upstream), '1', 'EX', UNSUPPORTED_TTL_SECONDS);
      await this.deps.batches.setMode(batchId, 'live');
      await this.deleteFiles(client, [state.fileId]);
      return this.runLive(batchId, state);
    }
    if (error.retryable && state.failures + 1 < MAX_FAILURES) {
      logger.warn(details, 'provider batch: upstream call failed; trying again');
      return this.retryLater(batchId, state, error);
    }
    logger.error(details, 'provider batch: upstream keeps failing; its requests run live');
    // An upstream batch left running would be paid for twice.
    if (state.upstreamBatchId) await client.cancelBatch(state.upstreamBatchId).catch(() => undefined);
    await this.deleteFiles(client, [state.fileId]);
    return this.runLive(batchId, state);
  }

  private async retryLater(batchId: string, state: ProviderBatchState, error: UpstreamError): Promise<Step> {
    const failures = state.failures + 1;
    await this.deps.states.update(batchId, state, { failures });
    return wait(retryDelayMs(failures, this.deps.config.backoffMs, error));
  }

  /** Puts every request of the batch that has not ended on the chat queue: it runs as an ordinary job. */
  private async runLive(batchId: string, state: ProviderBatchState): Promise<Step> {
    const { jobs, batches, scheduler } = this.deps;
    for (let start = 0; ; start += PAGE) {
      const ids = await batches.jobIds(batchId, start, PAGE);
      const replies = await jobs.readMany(ids, ['status', 'priority', 'tenant']);
      const byTenant = new Map<string, { id: string; priority: number }[]>();
      ids.forEach((id, index) => {
        const [status, priority, tenant] = replies[index];
        if (status && tenant && !isTerminal(status)) byTenant.set(tenant, [...(byTenant.get(tenant) ?? []), { id, priority: Number(priority) }]);
      });
      for (const [tenant, waiting] of byTenant) await scheduler.enqueue(tenant, waiting);
      if (ids.length < PAGE) break;
    }
    return this.finishState(batchId, state);
  }

  private async finishState(batchId: string, state: ProviderBatchState): Promise<Step> {
    await this.deps.states.update(batchId, state, { phase: 'done' });
    return DONE;
  }

  /**
   * The batch's requests that have not ended, as a batch input file. A request with `cache` whose
   * reply the tenant's cache holds ends here with it (`cached: true`, no cost), as a live job would
   * at its start, and is not sent upstream.
   */
  private async inputFile(batchId: string, upstream: UpstreamSettings): Promise<{ text: string; count: number }> {
    const { jobs, batches, cache } = this.deps;
    const lines: string[] = [];
    for (let start = 0; ; start += PAGE) {
      const ids = await batches.jobIds(batchId, start, PAGE);
      const replies = await jobs.readMany(ids, ['status', 'request', 'cache', 'tenant']);
      const hits = await Promise.all(
        replies.map(async ([status, , option, tenant]) => (cache && option && tenant && status && !isTerminal(status) ? cache.lookup(tenant, JSON.parse(option) as JobCache) : null)),
      );
      await Promise.all(hits.map((result, index) => result && endFromProvider(jobs, ids[index], { status: 'succeeded', result, cached: true })));
      ids.forEach((id, index) => {
        const [status, request] = replies[index];
        if (hits[index] || !status || !request || isTerminal(status)) return;
        const parsed = JSON.parse(request);
        lines.push(batchInputLine(id, parsed, upstream.modelMap[parsed.model] ?? parsed.model));
      });
      if (ids.length < PAGE) break;
    }
    return { text: lines.join('\n'), count: lines.length };
  }

  private pollDelay(polls: number): number {
    const first = this.deps.config.providerBatchPollMs;
    return Math.min(first * 2 ** polls, Math.max(first, MAX_POLL_MS));
  }

  /** Upstream keeps files until they are deleted: the batch's are, once it is done with them. */
  private async deleteFiles(client: ProviderBatchClient, ids: (string | null | undefined)[]): Promise<void> {
    await Promise.all(ids.filter((id): id is string => Boolean(id)).map((id) => client.deleteFile(id).catch(() => undefined)));
  }
}
