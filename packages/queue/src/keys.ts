/**
 * The hash tag of every fleet-level key and of BullMQ's queues (`{spool}`): on a Redis Cluster they
 * share one slot, the control slot, so the scripts that touch several of them run there unchanged.
 * A prefix that is a hash tag already (`{spool}`, once the advice for a cluster) is kept as it is.
 */
export function queuePrefix(prefix: string): string {
  return /^\{[^{}]+\}$/.test(prefix) ? prefix : `{${prefix}}`;
}

/**
 * Every Redis key Spool writes outside BullMQ's own, built in one place. Two kinds of hash slot,
 * on a single Redis as on a cluster: a job's own keys (record, events, their channel) are tagged by
 * the job id, so that jobs spread over the shards; everything else is tagged by the prefix.
 */
export interface Keys {
  prefix: string;
  /** the control slot's hash tag, `{<prefix>}`: every key but a job's own starts with it, and it is BullMQ's prefix */
  control: string;
  /** hash: the job's record and state (the job's slot) */
  job(id: string): string;
  /** list: the job's event log; event n is at index n-1 (the job's slot) */
  events(id: string): string;
  /** pub/sub channel announcing new events of one job (the job's slot) */
  eventsChannel(id: string): string;
  /** sorted set of a tenant's job ids, scored by submission order */
  tenantJobs(tenant: string): string;
  /** sorted set of a tenant's ended job ids, scored by when their records expire (ms): what to trim from `tenantJobs` */
  tenantJobsExpiry(tenant: string): string;
  /**
   * hash: a tenant's jobs not yet ended (`jobs`) and the bytes of their requests (`bytes`), and each
   * such job's bytes by its id: the entry goes once, when the job ends, so its end is applied once
   */
  tenantQuota(tenant: string): string;
  /** counter giving every job its submission order */
  submissionCounter(): string;
  /** pub/sub channel asking whichever worker holds a job to abort it */
  cancelChannel(): string;
  /** hash: an upstream's shared gate (next free request/token slot, pause); without a name, the `default` upstream's */
  upstreamGate(upstream?: string): string;
  /** sorted set: an upstream's calls by when they left its gate (ms), the last 5 s of them; without a name, the `default` upstream's */
  upstreamDepartures(upstream?: string): string;
  /** pub/sub channel telling every worker of a 429 pause at once (`{"upstream", "ms"}`) */
  upstreamPauseChannel(): string;
  /** hash: an upstream's health (failed calls in a row, out until, trial call lease) */
  upstreamHealth(upstream: string): string;
  /** sorted set: an upstream's calls in flight, by when their lease ends (ms) */
  upstreamInFlight(upstream: string): string;
  /** hash: the last `x-ratelimit-remaining-*` an upstream sent (`requests`, `tokens`, `at`) */
  upstreamRateLimit(upstream: string): string;
  /** string, expiring: the upstream answered 404 for this model (it does not serve it) */
  upstreamNotServed(upstream: string, model: string): string;
  /** list of ended job ids whose side effects (record, session, webhook, batch) are pending */
  outbox(): string;
  /** list of outbox entries being handled, and the hash of when each was claimed */
  outboxProcessing(): string;
  outboxClaims(): string;
  /** string: the generated webhook signing secret, when SPOOL_WEBHOOK_SECRET is unset */
  webhookSecret(): string;
  /** list: a job's or batch's webhook delivery attempts, oldest first */
  deliveries(ownerId: string): string;
  /** sorted set: a tenant's webhook deliveries in flight, by lease end */
  webhookSlots(tenant: string): string;
  /** string: held (expiring) by the worker pruning the store this round */
  storePruneRound(): string;
  /** hash: a batch's record and counts */
  batch(id: string): string;
  /** list: a batch's job ids (to cancel them) */
  batchJobs(id: string): string;
  /** set: the batch's job ids whose result is recorded */
  batchEnded(id: string): string;
  /** list: one JSONL result line per ended request, in the order they ended */
  batchResults(id: string): string;
  /** the per-API-key request rate (GCRA theoretical arrival time) */
  clientRate(keyId: string): string;
  /** an Idempotency-Key of a tenant, by the key's hash */
  idempotency(tenant: string, keyHash: string): string;
  /** sorted set: a tenant's jobs waiting for the fair scheduler to release them, best first (priority, then submission) */
  tenantWaiting(tenant: string): string;
  /** sorted set: a tenant's jobs released to the workers and not yet ended, by release time (ms) */
  tenantRunning(tenant: string): string;
  /** sorted set: a tenant's part of `schedulerDeferred` */
  tenantDeferred(tenant: string): string;
  /** sorted set: tenants with waiting jobs, by their pass (weighted virtual time): the lowest goes next */
  schedulerTenants(): string;
  /** hash: the estimated tokens of each of a tenant's jobs not yet released, charged to its TPM at release */
  tenantEstimates(tenant: string): string;
  /** hash: the scheduler's fleet state (virtual time) */
  scheduler(): string;
  /** sorted set: every released job not yet ended, by release time (ms) */
  schedulerReleased(): string;
  /** sorted set: released jobs not yet past the upstream gate, by release time (ms) */
  schedulerPending(): string;
  /**
   * sorted set: released jobs handed back or backing off, by when their wait ends (ms, Redis's clock): until then
   * they hold no worker slot (an entry whose wait is over counts for nothing and goes when the job ends)
   */
  schedulerDeferred(): string;
  /** sorted set: live worker processes, by when their heartbeat expires (ms); hash `workerSlots` holds each one's concurrency */
  schedulerWorkers(): string;
  workerSlots(): string;
  /** hash: a tenant's scheduling settings (weight, max_concurrency, rpm, tpm) and its pass and rate slots */
  tenantSchedule(tenant: string): string;
  /** hash: a tenant's spend in the current month (spent, reserved, requests, tokens) */
  tenantSpend(tenant: string, month: string): string;
  /** hash: a job's budget reservation (tenant, month, usd) while an attempt is upstream */
  budgetReservation(jobId: string): string;
  /** hash: ended jobs of the whole fleet by final status, counted by the script that ends them */
  fleetJobs(): string;
  /** hash: tokens of ended jobs of the whole fleet, by `<kind>:<tenant>` (kind `prompt` or `completion`) */
  fleetTokens(): string;
  /** hash: a cached reply (`at` ms, `result` JSON) of a tenant's request, by the request's hash */
  cacheEntry(tenant: string, hash: string): string;
  /** sorted set: a tenant's cache entries (request hashes) by when they expire (ms) */
  cacheExpiry(tenant: string): string;
  /** hash: the bytes of each of a tenant's cache entries, and their `total` */
  cacheSizes(tenant: string): string;
  /** string: the id of the job whose upstream call identical cache-opted jobs join (merging) */
  mergeLeader(tenant: string, mergeKey: string): string;
  /** hash: where a provider-mode batch is in the upstream's Batch API (file, upstream batch, polls) */
  providerBatch(batchId: string): string;
  /** string, expiring: the upstream answered 404 to its Batch API, so `completion_window` batches run live meanwhile */
  providerBatchUnsupported(upstream: string): string;
}

export function createKeys(prefix: string): Keys {
  const control = queuePrefix(prefix);
  return {
    prefix,
    control,
    job: (id) => `${prefix}:job:{${id}}`,
    events: (id) => `${prefix}:events:{${id}}`,
    eventsChannel: (id) => `${prefix}:events-channel:{${id}}`,
    tenantJobs: (tenant) => `${control}:tenant:${tenant}:jobs`,
    tenantJobsExpiry: (tenant) => `${control}:tenant:${tenant}:jobs-expiry`,
    tenantQuota: (tenant) => `${control}:tenant:${tenant}:quota`,
    submissionCounter: () => `${control}:submission-counter`,
    cancelChannel: () => `${control}:cancel`,
    upstreamGate: (upstream = 'default') => `${control}:upstream:${upstream}:gate`,
    upstreamDepartures: (upstream = 'default') => `${control}:upstream:${upstream}:departures`,
    upstreamPauseChannel: () => `${control}:upstream-pause`,
    upstreamHealth: (upstream) => `${control}:upstream:${upstream}:health`,
    upstreamInFlight: (upstream) => `${control}:upstream:${upstream}:in-flight`,
    upstreamRateLimit: (upstream) => `${control}:upstream:${upstream}:ratelimit`,
    upstreamNotServed: (upstream, model) => `${control}:upstream:${upstream}:not-served:${model}`,
    outbox: () => `${control}:outbox`,
    outboxProcessing: () => `${control}:outbox:processing`,
    outboxClaims: () => `${control}:outbox:claims`,
    webhookSecret: () => `${control}:webhook-secret`,
    deliveries: (ownerId) => `${control}:deliveries:${ownerId}`,
    webhookSlots: (tenant) => `${control}:webhook-slots:${tenant}`,
    storePruneRound: () => `${control}:store-prune-round`,
    batch: (id) => `${control}:batch:${id}`,
    batchJobs: (id) => `${control}:batch:${id}:jobs`,
    batchEnded: (id) => `${control}:batch:${id}:ended`,
    batchResults: (id) => `${control}:batch:${id}:results`,
    clientRate: (keyId) => `${control}:client-rate:${keyId}`,
    idempotency: (tenant, keyHash) => `${control}:idempotency:${tenant}:${keyHash}`,
    tenantWaiting: (tenant) => `${control}:tenant:${tenant}:waiting`,
    tenantRunning: (tenant) => `${control}:tenant:${tenant}:running`,
    tenantDeferred: (tenant) => `${control}:tenant:${tenant}:deferred`,
    schedulerTenants: () => `${control}:scheduler:tenants`,
    scheduler: () => `${control}:scheduler`,
    schedulerReleased: () => `${control}:scheduler:released`,
    schedulerPending: () => `${control}:scheduler:pending`,
    schedulerDeferred: () => `${control}:scheduler:deferred`,
    schedulerWorkers: () => `${control}:scheduler:workers`,
    workerSlots: () => `${control}:scheduler:worker-slots`,
    tenantEstimates: (tenant) => `${control}:tenant:${tenant}:estimates`,
    tenantSchedule: (tenant) => `${control}:tenant:${tenant}:schedule`,
    tenantSpend: (tenant, month) => `${control}:tenant:${tenant}:spend:${month}`,
    budgetReservation: (jobId) => `${control}:budget-reservation:${jobId}`,
    fleetJobs: () => `${control}:fleet:jobs`,
    fleetTokens: () => `${control}:fleet:tokens`,
    cacheEntry: (tenant, hash) => `${control}:cache:${tenant}:entry:${hash}`,
    cacheExpiry: (tenant) => `${control}:cache:${tenant}:expiry`,
    cacheSizes: (tenant) => `${control}:cache:${tenant}:sizes`,
    mergeLeader: (tenant, mergeKey) => `${control}:cache:${tenant}:leader:${mergeKey}`,
    providerBatch: (batchId) => `${control}:provider-batch:${batchId}`,
    providerBatchUnsupported: (upstream) => `${control}:provider-batch-unsupported:${upstream}`,
  };
}
