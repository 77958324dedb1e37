import { randomUUID } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { isTerminal, type AttemptLogEntry, type JobEvent, type JobObject, type JobStatus, type JobResult, type JobPartial, type JobError, type UpstreamRequest } from '@spool/contracts';

import { coalesceWrites, defineCommands, jobEventsPubSub, type Keys, type PubSub, type RedisClient } from '@spool/queue';
import { decodeEntry, encodeEvent } from '@spool/stream';
import { JOB_COMMANDS, type JobCommands } from './commands.js';
import { RENDERED_FIELDS, nowSeconds, renderFields, renderJob, type JobFields, type RenderedRecord, type StreamEnd } from './job-record.js';
import { TenantQuotaError } from './tenant-quota-error.js';
import type { JobCache } from './response-cache.js';
import { toNanoUsd } from './tenant-spend.js';

const JOB_TTL_SECONDS = 7 * 24 * 3600;
/** requests `checkQuota` measures in one event-loop turn */
const MEASURED_PER_TURN = 250;
/** what trim-index.lua drops at most in one call */
const TRIM_BATCH = 1000;

export interface JobRepositoryOptions {
  /** how long a job's events are kept after it ends (SPOOL_EVENTS_TTL_S, 24 h) */
  eventsTtlSeconds?: number;
  /** how long an ended job's record is kept: 7 days, and never less than its events */
  recordTtlSeconds?: number;
  /** a tenant's jobs not yet ended, at most (SPOOL_TENANT_MAX_QUEUED, 100,000) */
  maxQueuedJobs?: number;
  /** the bytes of their requests, at most (SPOOL_TENANT_MAX_QUEUED_BYTES, 1 GiB) */
  maxQueuedBytes?: number;
}

export interface NewJob {
  id: string;
  tenant: string;
  request: UpstreamRequest;
  priority: number;
  metadata: Record<string, string>;
  onInterrupt: 'continue' | 'restart';
  sessionId?: string | null;
  batchId?: string | null;
  continues?: string | null;
  webhookUrl?: string | null;
  /** the request's `custom_id` in its batch */
  customId?: string | null;
  /** the `cache` option: reuse or join an identical request's reply (response-cache.ts) */
  cache?: JobCache | null;
  /** the W3C trace context of the submission (tracing on): the worker's spans join its trace */
  traceparent?: string | null;
  /** when it was submitted, Unix ms, written with `traceparent`: the queue-wait span starts there */
  queuedAtMs?: number | null;
}

export type StartResult =
  | { state: 'missing' | 'ended' }
  | { state: 'started'; attempt: number; eventCount: number; fields: JobFields };

export interface Outcome {
  status: Extract<JobStatus, 'succeeded' | 'failed' | 'cancelled'>;
  result?: JobResult;
  partial?: JobPartial | null;
  error?: JobError;
  /** upstream's HTTP status behind `error`, kept so the OpenAI door can answer with it */
  upstreamStatus?: number;
  /** the job's upstream calls, this attempt's included (the record's `attempt_log`) */
  attemptLog?: AttemptLogEntry[];
  /** the result came from the response cache */
  cached?: boolean;
  /** the result came from the upstream call of this identical job */
  mergedWith?: string;
  /** what the job cost when known at its end (a provider batch's line, at the batch price) */
  costUsd?: number;
}

export interface FinishOptions {
  /** only this attempt may finish it; omitted: whoever holds it (cancel) */
  owner?: string;
  /** the event count the caller based its outcome on; the log must not have moved since */
  expectedEventCount?: number;
}

export type FinishResult = { state: 'finished'; job: JobObject } | { state: 'ended' | 'missing' | 'moved' };

/** ioredis queues a defined command on a MULTI like any other. */
interface SucceededPipeline {
  spoolCreate(...args: (string | number)[]): SucceededPipeline;
  spoolStart(...args: (string | number)[]): SucceededPipeline;
  spoolAppend(...args: (string | number)[]): SucceededPipeline;
  spoolFinish(...args: (string | number)[]): SucceededPipeline;
  exec(): Promise<[Error | null, unknown][] | null>;
}
interface AdmitEndPipeline {
  spoolAdmit(...args: (string | number)[]): AdmitEndPipeline;
  spoolEnded(...args: (string | number)[]): AdmitEndPipeline;
  exec(): Promise<[Error | null, unknown][] | null>;
}

/** What the control slot's half of a job's end (ended.lua) needs of the job. */
interface EndedJob {
  id: string;
  tenant: string;
  status: string;
  /** `<prompt> <completion>` tokens, as the record's `ended_tokens` keeps them */
  endedTokens: string;
}

const QUEUED_ENTRY = encodeEvent('status', { status: 'queued', attempt: 1 });

/** A hash from a script's reply of field, value, ... pairs starting at `from`. */
function fieldsFrom(reply: string[], from: number): JobFields {
  const fields: JobFields = {};
  for (let i = from; i < reply.length; i += 2) fields[reply[i]] = reply[i + 1];
  return fields;
}

/**
 * What the fair scheduler charges a tenant's TPM when it releases the job: its request's size in
 * tokens, roughly (4 bytes a token), and the longest reply it asks for.
 */
function estimateTokens(request: NewJob['request'], json: string): number {
  const reply = request.max_completion_tokens ?? request.max_tokens;
  return Math.ceil(json.length / 4) + (typeof reply === 'number' ? reply : 256);
}

/** A new job's hash: every value a string, absent ones left out. */
function newJobFields(job: NewJob): JobFields {
  const request = JSON.stringify(job.request);
  return Object.fromEntries(
    Object.entries({
      tenant: job.tenant,
      status: 'queued',
      attempts: 0,
      created_at: nowSeconds(),
      model: job.request.model,
      priority: job.priority,
      metadata: JSON.stringify(job.metadata),
      request,
      est_tokens: estimateTokens(job.request, request),
      on_interrupt: job.onInterrupt,
      session_id: job.sessionId,
      batch_id: job.batchId,
      continues: job.continues,
      webhook_url: job.webhookUrl,
      custom_id: job.customId,
      cache: job.cache ? JSON.stringify(job.cache) : null,
      traceparent: job.traceparent,
      queued_at_ms: job.queuedAtMs,
    })
      .filter(([, value]) => value !== undefined && value !== null)
      .map(([key, value]) => [key, String(value)]),
  );
}

/** A new job's record as `renderJob` reads it: known from the job itself, with nothing to parse. */
function newRecord(job: NewJob, createdAt: number): RenderedRecord {
  const unset = { started_at: null, finished_at: null, result: null, partial: null, error: null, attempt_log: [], cached: false, cost_nusd: 0 };
  return {
    ...unset,
    status: 'queued',
    model: job.request.model,
    created_at: createdAt,
    attempts: 0,
    priority: job.priority,
    session_id: job.sessionId ?? null,
    batch_id: job.batchId ?? null,
    continues: job.continues ?? null,
    metadata: job.metadata,
  };
}

/** An HMGET reply of `names` (default `RENDERED_FIELDS`) as a hash, absent fields left out. */
function renderedFields(values: (string | null)[], names: readonly string[] = RENDERED_FIELDS): JobFields {
  const fields: JobFields = {};
  names.forEach((name, index) => {
    if (values[index] !== null) fields[name] = values[index];
  });
  return fields;
}

/** What a job object shows, with whose job it is and the id of its `done`: never its request (up to 1 MB). */
const SHOWN_FIELDS: readonly string[] = [...RENDERED_FIELDS, 'tenant', 'done_event_id'];

function flatten(fields: Record<string, string | number | null | undefined>): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined && value !== null) out.push(key, String(value));
  }
  return out;
}

/**
 * A job's record and event log in Redis. Every state change is one script that also appends
 * its event, guarded by the owner token of the attempt holding the job: a worker that lost the
 * job (taken over after a stall, or cancelled) can no longer write, and a job ends once.
 */
export class JobRepository {
  private readonly redis: RedisClient & JobCommands;
  private readonly eventsTtlSeconds: number;
  private readonly recordTtlSeconds: number;
  private readonly maxQueuedJobs: number;
  private readonly maxQueuedBytes: number;
  private readonly publish: PubSub['publish'];

  constructor(redis: RedisClient, private readonly keys: Keys, options: JobRepositoryOptions = {}) {
    this.eventsTtlSeconds = options.eventsTtlSeconds ?? 24 * 3600;
    this.recordTtlSeconds = Math.max(options.recordTtlSeconds ?? JOB_TTL_SECONDS, this.eventsTtlSeconds);
    this.maxQueuedJobs = options.maxQueuedJobs ?? 100_000;
    this.maxQueuedBytes = options.maxQueuedBytes ?? 1024 ** 3;
    this.publish = jobEventsPubSub(redis).publish;
    defineCommands(redis, JOB_COMMANDS);
    this.redis = redis as RedisClient & JobCommands;
  }

  /** What every script writing the job's events takes first: its keys (record, log, channel), then the command it publishes them with. */
  private eventScriptArgs(id: string): [string, string, string, string] {
    return [this.keys.job(id), this.keys.events(id), this.keys.eventsChannel(id), this.publish];
  }

  /** ADMITTED's keys: the job's record and log. */
  private recordKeys(id: string): [string, string] {
    return [this.keys.job(id), this.keys.events(id)];
  }

  /** Where the fair scheduler keeps a tenant's job until it ends: ENDED and REMOVE take it out. */
  private schedulerKeys(tenant: string): string[] {
    const { keys } = this;
    return [keys.tenantWaiting(tenant), keys.tenantRunning(tenant), keys.schedulerReleased(), keys.schedulerPending(), keys.schedulerDeferred(), keys.tenantDeferred(tenant)];
  }

  /** create.lua's arguments for a job and its new hash. */
  private createArgs(job: NewJob, fields: JobFields): (string | number)[] {
    return [...this.eventScriptArgs(job.id), QUEUED_ENTRY, this.recordTtlSeconds, ...flatten(fields)];
  }

  /** admit.lua's arguments for a job and its new hash. */
  private admitArgs(job: NewJob, fields: JobFields): (string | number)[] {
    const { keys } = this;
    return [
      keys.tenantQuota(job.tenant),
      keys.submissionCounter(),
      keys.tenantJobs(job.tenant),
      keys.tenantEstimates(job.tenant),
      job.id,
      // what the job holds of its tenant's bytes quota: its request as recorded
      Buffer.byteLength(fields.request),
      this.maxQueuedJobs,
      this.maxQueuedBytes,
      fields.est_tokens,
    ];
  }

  /** create.lua's and admit.lua's refusals as errors. */
  private checkCreated(job: NewJob, reply: number): void {
    if (reply === -2) throw new TenantQuotaError('jobs', this.maxQueuedJobs);
    if (reply === -3) throw new TenantQuotaError('bytes', this.maxQueuedBytes);
    if (reply < 0) throw new Error(`job ${job.id} exists`);
  }

  /**
   * The control slot's half of a creation: ADMIT, and ADMITTED behind it (`alsoSend` too, on the
   * connection in the same turn: the job is admitted before anything it sends). A job ADMIT refused
   * loses the record CREATE made; one admitted whose record existed already is taken back.
   */
  private async admit(job: NewJob, fields: JobFields, creating: Promise<number>, alsoSend?: () => Promise<unknown>): Promise<void> {
    // Once in line the job may start at once, so its record must be there first. One connection
    // keeps that order by itself; a cluster's slots are on connections of their own.
    if (this.redis.isCluster) await creating.catch(() => undefined);
    const admitted = this.redis.spoolAdmit(...this.admitArgs(job, fields));
    const lasting = this.redis.spoolAdmitted(...this.recordKeys(job.id));
    const [created, seq] = await Promise.all([creating, admitted, lasting, alsoSend?.()]);
    if (created < 0) {
      if (seq > 0) await this.unadmit(job);
      this.checkCreated(job, created);
    }
    if (seq < 0) {
      await this.redis.del(...this.recordKeys(job.id));
      this.checkCreated(job, seq);
    }
  }

  /**
   * Records a queued job (CREATE, in the job's slot), then counts it against its tenant's quota
   * until it ends and gives it its place in the tenant's index (ADMIT, in the control slot);
   * TenantQuotaError past the quota. `alsoSend` goes out right behind ADMIT (the job in its line).
   * All of it leaves in one write (one round trip); Redis runs the commands in order.
   */
  async create(job: NewJob, alsoSend?: () => Promise<unknown>): Promise<JobObject> {
    const fields = newJobFields(job);
    coalesceWrites(this.redis);
    await this.admit(job, fields, this.redis.spoolCreate(...this.createArgs(job, fields)), alsoSend);
    return renderJob(job.id, newRecord(job, Number(fields.created_at)));
  }

  /**
   * Creates many jobs (a batch): same records, events and quota as `create`, job after job in one
   * write (a batch cut short by a fault has whole jobs before it, which its rollback removes).
   */
  async createMany(jobs: NewJob[]): Promise<void> {
    const fields = jobs.map(newJobFields);
    coalesceWrites(this.redis);
    const admitted = await Promise.allSettled(
      jobs.map((job, index) => this.admit(job, fields[index], this.redis.spoolCreate(...this.createArgs(job, fields[index])))),
    );
    for (const outcome of admitted) if (outcome.status === 'rejected') throw outcome.reason;
  }

  /** ADMIT undone (REMOVE, in the control slot): index, scheduler, quota. */
  private async unadmit(job: Pick<NewJob, 'id' | 'tenant'>): Promise<void> {
    const { keys } = this;
    await this.redis.spoolRemove(keys.tenantQuota(job.tenant), keys.tenantJobs(job.tenant), ...this.schedulerKeys(job.tenant), keys.tenantEstimates(job.tenant), job.id);
  }

  /**
   * Undoes `createMany` (a batch that could not be submitted whole): index entries and quota first,
   * then records and logs (a crash between leaves records that hold nothing and expire).
   */
  async removeMany(jobs: Pick<NewJob, 'id' | 'tenant'>[]): Promise<void> {
    coalesceWrites(this.redis);
    await Promise.all(jobs.map((job) => this.unadmit(job)));
    coalesceWrites(this.redis);
    await Promise.all(jobs.map((job) => this.redis.del(...this.recordKeys(job.id))));
  }

  /**
   * Throws TenantQuotaError when jobs of `tenant` with these requests would not fit its quota now,
   * so that a batch is refused whole before anything is written. Only a check: `create` counts
   * each job, atomically. The requests are measured a few hundred per event-loop turn (a batch
   * holds up to 50 MB of them).
   */
  async checkQuota(tenant: string, requests: UpstreamRequest[]): Promise<void> {
    const [held, heldBytes] = await this.redis.hmget(this.keys.tenantQuota(tenant), 'jobs', 'bytes');
    if (Number(held ?? 0) + requests.length > this.maxQueuedJobs) throw new TenantQuotaError('jobs', this.maxQueuedJobs);
    let bytes = Number(heldBytes ?? 0);
    for (const [index, request] of requests.entries()) {
      bytes += Buffer.byteLength(JSON.stringify(request));
      if (index % MEASURED_PER_TURN === MEASURED_PER_TURN - 1) await nextTurn();
    }
    if (bytes > this.maxQueuedBytes) throw new TenantQuotaError('bytes', this.maxQueuedBytes);
  }

  async get(id: string): Promise<JobFields | null> {
    const fields = await this.redis.hgetall(this.keys.job(id));
    return fields.status ? fields : null;
  }

  /** `names` of each job's record (null where absent), a command per job in one write: on a cluster the records are in many slots. */
  async readMany(ids: readonly string[], names: readonly string[]): Promise<(string | null)[][]> {
    coalesceWrites(this.redis);
    return Promise.all(ids.map((id) => this.redis.hmget(this.keys.job(id), ...names)));
  }

  /** The trace context a job was submitted in (tracing on), for a worker whose queue entry does not carry it. */
  async traceOf(id: string): Promise<{ traceparent?: string; queuedAtMs?: number }> {
    const [traceparent, queuedAtMs] = await this.redis.hmget(this.keys.job(id), 'traceparent', 'queued_at_ms');
    return traceparent ? { traceparent, queuedAtMs: queuedAtMs ? Number(queuedAtMs) : undefined } : {};
  }

  /** The record and the log as they were at one moment; `fields` null when the job is gone. */
  async snapshot(id: string): Promise<{ fields: JobFields | null; events: JobEvent[] }> {
    const [entries, ...pairs] = await this.redis.spoolSnapshot(this.keys.job(id), this.keys.events(id));
    const fields = fieldsFrom(pairs, 0);
    return { fields: fields.status ? fields : null, events: entries.map((entry, index) => decodeEntry(index + 1, entry)) };
  }

  /**
   * The fields `renderFields` reads, with `tenant` and `done_event_id`, if the job exists and
   * belongs to `tenant`: what a GET or an event stream needs, without the request.
   */
  async getShownForTenant(id: string, tenant: string): Promise<JobFields | null> {
    const fields = renderedFields(await this.redis.hmget(this.keys.job(id), ...SHOWN_FIELDS), SHOWN_FIELDS);
    return fields.status && fields.tenant === tenant ? fields : null;
  }

  /** The job if it exists and belongs to `tenant`; another tenant's job is as absent as a missing one. */
  async getForTenant(id: string, tenant: string): Promise<JobFields | null> {
    const fields = await this.get(id);
    return fields && fields.tenant === tenant ? fields : null;
  }

  /**
   * Takes the job as `owner`. A job found ended may be one whose ender died between FINISH and
   * ENDED: its ENDED runs here (it applies once), before the caller lets the queue entry go.
   */
  async start(id: string, owner: string): Promise<StartResult> {
    const reply = await this.redis.spoolStart(...this.eventScriptArgs(id), owner, nowSeconds());
    if (reply[0] === 'ended') await this.ended({ id, status: reply[1] ?? '', tenant: reply[2] ?? '', endedTokens: reply[3] ?? '' });
    if (reply[0] !== 'started') return { state: reply[0] as 'missing' | 'ended' };
    const fields = fieldsFrom(reply as string[], 2);
    return { state: 'started', attempt: Number(fields.attempts), eventCount: Number(reply[1]), fields };
  }

  /**
   * Appends events as `owner`; false when the job is no longer this owner's to write. Appends
   * made in one turn of the event loop (the deltas of many streams) leave in one socket write,
   * in order with the connection's other commands. `streamEnd` records, in the same step as
   * the last deltas, that the reply streamed to its end (the record's `stream_end`): a worker that takes
   * the job over after this one died ends it from the log instead of calling upstream again.
   */
  async append(id: string, owner: string, entries: string[], streamEnd?: StreamEnd): Promise<boolean> {
    coalesceWrites(this.redis);
    const end = streamEnd ? JSON.stringify(streamEnd) : '';
    return (await this.redis.spoolAppend(...this.eventScriptArgs(id), owner, end, ...entries)) >= 0;
  }

  /**
   * Hands the job back for another attempt, announcing it with a `status: queued` event.
   * `refund` gives the attempt back when the job was not at fault (rate limit, shutdown).
   */
  async requeue(id: string, owner: string, attempt: number, refund = false): Promise<boolean> {
    const next = refund ? attempt : attempt + 1;
    const entry = encodeEvent('status', { status: 'queued', attempt: next });
    return (await this.redis.spoolRequeue(...this.eventScriptArgs(id), owner, refund ? '1' : '0', entry)) > 0;
  }

  /**
   * Records the job's upstream calls so far (the record's `attempt_log`) as `owner`, before an
   * attempt hands the job back; false when the job is no longer this owner's to write.
   */
  async recordAttempts(id: string, owner: string, attemptLog: AttemptLogEntry[]): Promise<boolean> {
    return (await this.redis.spoolRecordAttempts(this.keys.job(id), owner, JSON.stringify(attemptLog))) > 0;
  }

  /**
   * Ends the job with `outcome` and its `done` event, unless it already ended: FINISH in the job's
   * slot, then ENDED in the control slot. A job found ended gets its ENDED again (a no-op unless
   * its ender died in between).
   */
  async finish(id: string, fields: JobFields, outcome: Outcome, options: FinishOptions = {}): Promise<FinishResult> {
    const { job, args, ended } = this.finishArgs(id, fields, outcome, options);
    const [code, status, tenant, endedTokens] = await this.redis.spoolFinish(...args);
    if (code > 0) {
      await this.ended(ended);
      return { state: 'finished', job };
    }
    if (code === -1) await this.ended({ id, status: status ?? '', tenant: tenant ?? '', endedTokens: endedTokens ?? '' });
    return { state: code === -2 ? 'missing' : code === -3 ? 'moved' : 'ended' };
  }

  /** ended.lua's arguments. */
  private endedArgs(job: EndedJob): (string | number)[] {
    const { keys } = this;
    const [prompt, completion] = job.endedTokens.split(' ');
    return [
      keys.tenantQuota(job.tenant),
      keys.outbox(),
      keys.tenantJobs(job.tenant),
      keys.tenantJobsExpiry(job.tenant),
      ...this.schedulerKeys(job.tenant),
      keys.fleetJobs(),
      keys.fleetTokens(),
      keys.tenantEstimates(job.tenant),
      job.id,
      job.status,
      job.tenant,
      Number(prompt) || 0,
      Number(completion) || 0,
      this.recordTtlSeconds,
    ];
  }

  /** The control slot's half of an ended job's end (ENDED), which applies once; nothing for a job not ended. */
  private async ended(job: EndedJob): Promise<void> {
    if (isTerminal(job.status)) await this.redis.spoolEnded(...this.endedArgs(job));
  }

  /**
   * Applies the control slot's half of the end of a job found ended (its ender may have died after
   * FINISH): outbox, quota, scheduler, fleet counts, once. The fair scheduler's reconcile calls it.
   */
  async settleEnded(id: string): Promise<void> {
    const [status, tenant, endedTokens] = await this.redis.hmget(this.keys.job(id), 'status', 'tenant', 'ended_tokens');
    if (status && tenant) await this.ended({ id, status, tenant, endedTokens: endedTokens ?? '' });
  }

  /** finish.lua's arguments for ending the job with `outcome`, the job object its `done` carries, and what ENDED needs. */
  private finishArgs(id: string, fields: JobFields, outcome: Outcome, options: FinishOptions): { job: JobObject; args: (string | number)[]; ended: EndedJob } {
    const promptTokens = outcome.result?.usage.prompt_tokens ?? 0;
    const completionTokens = outcome.result?.usage.completion_tokens ?? outcome.partial?.completion_tokens ?? 0;
    const changes: JobFields = {
      status: outcome.status,
      finished_at: String(nowSeconds()),
      ...(outcome.result && { result: JSON.stringify(outcome.result) }),
      ...(outcome.partial && { partial: JSON.stringify(outcome.partial) }),
      ...(outcome.error && { error: JSON.stringify(outcome.error) }),
      ...(outcome.upstreamStatus && { upstream_status: String(outcome.upstreamStatus) }),
      ...(outcome.attemptLog?.length && { attempt_log: JSON.stringify(outcome.attemptLog) }),
      ...(outcome.cached && { cached: '1' }),
      ...(outcome.mergedWith && { merged_with: outcome.mergedWith }),
      ...(outcome.costUsd !== undefined && { cost_nusd: String(toNanoUsd(outcome.costUsd)) }),
      // the fleet's token counts, for an ENDED that runs from the record (a repair)
      ended_tokens: `${promptTokens} ${completionTokens}`,
    };
    const job = renderFields(id, { ...fields, ...changes });
    const args = [...this.eventScriptArgs(id), options.owner ?? '', options.expectedEventCount ?? '', encodeEvent('done', job), this.eventsTtlSeconds, this.recordTtlSeconds, ...flatten(changes)];
    return { job, args, ended: { id, tenant: fields.tenant, status: outcome.status, endedTokens: changes.ended_tokens } };
  }

  /**
   * Records a job that has its result already (a cache hit) and ends it at once, by the same
   * scripts as any job: in the job's slot one MULTI of CREATE, START, its text as `delta` events
   * (`deltas`) and FINISH; then in the control slot one MULTI of ADMIT and ENDED (the outbox then
   * runs its webhook, store record and batch result). It never holds its tenant's quota past
   * this step, and never goes on the queue. TenantQuotaError past the quota (its record goes).
   */
  async createSucceeded(job: NewJob, result: JobResult, deltas: string[], origin: Pick<Outcome, 'cached'>): Promise<JobObject> {
    const owner = randomUUID();
    const fields = newJobFields(job);
    const started: JobFields = { ...fields, attempts: '1', started_at: fields.created_at };
    const { job: finished, args, ended } = this.finishArgs(job.id, started, { status: 'succeeded', result, ...origin }, { owner });
    const multi = this.redis.multi() as unknown as SucceededPipeline;
    multi
      .spoolCreate(...this.createArgs(job, fields))
      .spoolStart(...this.eventScriptArgs(job.id), owner, Number(fields.created_at))
      .spoolAppend(...this.eventScriptArgs(job.id), owner, '', ...deltas)
      .spoolFinish(...args);
    const replies = (await multi.exec()) ?? [];
    for (const [error] of replies) if (error) throw error;
    this.checkCreated(job, replies[0][1] as number);
    const control = this.redis.multi() as unknown as AdmitEndPipeline;
    const admitted = (await control.spoolAdmit(...this.admitArgs(job, fields)).spoolEnded(...this.endedArgs(ended)).exec()) ?? [];
    for (const [error] of admitted) if (error) throw error;
    const seq = admitted[0][1] as number;
    if (seq < 0) {
      await this.redis.del(...this.recordKeys(job.id));
      this.checkCreated(job, seq);
    }
    return finished;
  }

  /** Drops from the tenant's index every job whose record has expired. */
  async trimIndex(tenant: string): Promise<void> {
    const index = this.keys.tenantJobs(tenant);
    const expiry = this.keys.tenantJobsExpiry(tenant);
    let dropped: number;
    do {
      dropped = await this.redis.spoolTrimIndex(index, expiry);
    } while (dropped === TRIM_BATCH);
  }

  /** A tenant's jobs, newest submission first. */
  async list(tenant: string, options: { limit: number; after?: string; status?: JobStatus; batchId?: string }): Promise<{ data: JobObject[]; hasMore: boolean }> {
    // Ends trim the index too; a tenant that has been idle since its jobs expired is trimmed here.
    await this.trimIndex(tenant);
    const key = this.keys.tenantJobs(tenant);
    let max = '+inf';
    if (options.after) {
      const seq = await this.redis.zscore(key, options.after);
      if (seq === null) return { data: [], hasMore: false };
      max = `(${seq}`;
    }
    const data: JobObject[] = [];
    const page = Math.max(options.limit + 1, options.status || options.batchId ? 200 : 0);
    for (;;) {
      const ids = await this.redis.zrevrangebyscore(key, max, '-inf', 'WITHSCORES', 'LIMIT', 0, page);
      if (ids.length === 0) return { data, hasMore: false };
      const replies = await this.readMany(ids.filter((_, i) => i % 2 === 0), RENDERED_FIELDS);
      const expired: string[] = [];
      let more = false;
      for (let i = 0; i < replies.length; i++) {
        const fields = renderedFields(replies[i]);
        if (!fields.status) {
          expired.push(ids[i * 2]); // ended before its expiry was noted (older versions): dropped now
          continue;
        }
        if (options.status && fields.status !== options.status) continue;
        if (options.batchId && fields.batch_id !== options.batchId) continue;
        if (data.length === options.limit) {
          more = true;
          break;
        }
        data.push(renderFields(ids[i * 2], fields));
      }
      if (expired.length) await this.redis.zrem(key, ...expired);
      if (more) return { data, hasMore: true };
      if (ids.length < page * 2) return { data, hasMore: false };
      max = `(${ids[ids.length - 1]}`;
    }
  }
}

