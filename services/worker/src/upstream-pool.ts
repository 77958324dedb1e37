import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ModelSettings, UpstreamSettings } from '@spool/config';
import type { UpstreamRequest } from '@spool/contracts';
import { classifyUpstreamError, UpstreamClient, UpstreamError, type RateLimitSnapshot } from '@spool/llm';
import { coalesceWrites, readUpstreamStatus, type Keys, type UpstreamStatus, type RedisClient } from '@spool/queue';
import { WorkerError } from './errors.js';
import { chooseRoute, soonestElsewhere, WeightedRotation, type ModelChoice } from './route-upstream.js';
import { abortableDelay, acquireEarliest, UpstreamGate, UpstreamGateError } from './upstream-gate.js';
import { callHealth, UpstreamHealth, type UpstreamHealthOptions } from './upstream-health.js';

/** A 429 with no retry-after still pauses its upstream this long. */
export const DEFAULT_RATE_LIMIT_PAUSE_MS = 1000;
/** A wait for an upstream up to this long is sat out in the attempt; a longer one hands the job back until then. */
const SHORT_WAIT_MS = 1000;
/** Routing looks again this many times (short waits, trial claims lost to another worker) before handing the job back. */
const MAX_ROUTE_ROUNDS = 5;
/** How long an upstream's 404 for a model is believed. */
export const NOT_SERVED_MS = 10 * 60_000;
/** How often a process prunes an upstream's expired in-flight leases. */
const PRUNE_IN_FLIGHT_EVERY_MS = 1000;
/** How long the last rate-limit headers an upstream sent stay on show. */
const RATE_LIMIT_SEEN_MS = 10 * 60_000;

/** No upstream serving the job's model (or a fallback) can take a call for a while: the job waits that out, handed back. */
export class UpstreamUnavailableError extends WorkerError {
  constructor(readonly retryAfterMs: number) {
    super('upstream_unavailable', `no upstream serving the model can take a call for ${retryAfterMs} ms`);
  }
}

/** One upstream of the pool: its settings, its client and its gate. */
export interface PoolMember {
  settings: UpstreamSettings;
  client: UpstreamClient;
  gate: UpstreamGate;
}

/** Where one call goes: the member, the model it is asked for (the job's, or a fallback), and whether it is that upstream's trial call. */
export interface RoutedCall {
  member: PoolMember;
  model: string;
  trial: boolean;
  /** the upstream had a clean record when routed: a success need not be written */
  clean: boolean;
  /** a slot of its gate was reserved while routing, this long from then (ms) */
  reservedWaitMs?: number;
  /** the only upstream there is for the model (no fallbacks): nowhere else to go when it is paused */
  alone?: boolean;
}

export interface RouteOptions {
  /** upstreams the job's last call failed on */
  avoid?: ReadonlySet<string>;
  signal?: AbortSignal;
  /** the tokens the call is charged, when routing reserves its slot */
  tokens?: number;
}

export interface UpstreamPoolOptions {
  redis: RedisClient;
  keys: Keys;
  upstreams: readonly UpstreamSettings[];
  models: ReadonlyMap<string, ModelSettings>;
  logger: Logger;
  /** SPOOL_UPSTREAM_TIMEOUT_MS and SPOOL_STALL_TIMEOUT_MS, for every client */
  timeoutMs: number;
  stallTimeoutMs: number;
  /** failed calls in a row that take an upstream out, and for how long; tracked only with two upstreams or more */
  health?: UpstreamHealthOptions;
  /** a client per upstream name instead of the ones built from the settings (closed by their owner) */
  clients?: ReadonlyMap<string, UpstreamClient>;
}

const serves = (settings: UpstreamSettings, model: string) => settings.models.includes('*') || settings.models.includes(model);

/**
 * The upstreams of SPOOL_CONFIG (or the one of the environment), each with its own gate, health
 * and client, and the routing between them (route-upstream.ts). Everything they share lives in
 * Redis, so every worker sees the same pauses, windows out and marks.
 */
export class UpstreamPool {
  readonly members: readonly PoolMember[];
  private readonly byName: Map<string, PoolMember>;
  private readonly health?: UpstreamHealth;
  private readonly rotation = new WeightedRotation();
  private readonly ownedClients: UpstreamClient[] = [];
  private readonly inFlightLeaseMs: number;
  /** when this process last pruned each upstream's expired in-flight leases */
  private readonly prunedAt = new Map<string, number>();

  constructor(private readonly options: UpstreamPoolOptions) {
    const { redis, keys } = options;
    this.members = options.upstreams.map((settings) => {
      const given = options.clients?.get(settings.name);
      const client =
        given ??
        new UpstreamClient({ baseURL: settings.baseUrl, apiKey: settings.apiKey, headers: settings.headers, timeoutMs: options.timeoutMs, stallTimeoutMs: options.stallTimeoutMs });
      if (!given) this.ownedClients.push(client);
      const gate = new UpstreamGate(redis, keys.upstreamGate(settings.name), {
        rpm: settings.rpm,
        tpm: settings.tpm,
        pauseChannel: keys.upstreamPauseChannel(),
        upstream: settings.name,
        departuresKey: keys.upstreamDepartures(settings.name),
      });
      return { settings, client, gate };
    });
    this.byName = new Map(this.members.map((member) => [member.settings.name, member]));
    // With one upstream there is nowhere else to go: failures are retried with backoff, as they always were.
    if (this.members.length > 1) this.health = new UpstreamHealth(redis, keys, { trialLeaseMs: options.timeoutMs + 5000, ...options.health });
    this.inFlightLeaseMs = options.timeoutMs + 5000;
  }

  /** The job's model then its fallbacks, each with the upstreams configured to serve it. */
  private chain(model: string): { model: string; members: PoolMember[] }[] {
    const models = [model, ...(this.options.models.get(model)?.fallbacks ?? [])];
    return [...new Set(models)].map((name) => ({ model: name, members: this.members.filter((member) => serves(member.settings, name)) }));
  }

  /** The chain with each upstream's state read from Redis; an unreachable Redis is the gate's outage, never the upstream's. */
  private async readChain(model: string): Promise<ModelChoice[]> {
    const chain = this.chain(model);
    const statusByModel = await Promise.all(
      chain.map(async (entry) => (entry.members.length ? readUpstreamStatus(this.options.redis, this.options.keys, entry.members.map((member) => member.settings.name), entry.model) : [])),
    ).catch((error: unknown) => {
      throw new UpstreamGateError(error);
    });
    return chain.map((entry, index) => ({
      model: entry.model,
      candidates: entry.members.map((member, at) => ({ name: member.settings.name, weight: member.settings.weight, status: statusByModel[index][at] })),
    }));
  }

  /**
   * Where the next call of a job for `model` goes. Waits out a short pause or window; throws
   * `UpstreamUnavailableError` when the wait is longer (the job is handed back until then), an
   * `UpstreamError` when no upstream serves the model or a fallback, `UpstreamGateError` when
   * Redis cannot be read. Among several that can take it now, the gate with the earliest slot
   * takes it, reserved in the same step.
   */
  async route(model: string, options: RouteOptions = {}): Promise<RoutedCall> {
    const { avoid = new Set<string>(), signal } = options;
    const only = this.members.length === 1 && !this.options.models.get(model)?.fallbacks.length ? this.members[0] : undefined;
    // One upstream and no fallbacks: nothing to choose, and its gate holds its pauses.
    if (only && serves(only.settings, model)) return { member: only, model, trial: false, clean: true, alone: true };
    const skip = new Set<string>();
    for (let round = 0; round < MAX_ROUTE_ROUNDS && !signal?.aborted; round++) {
      const chain = await this.readChain(model);
      for (const entry of chain) entry.candidates = entry.candidates.filter((candidate) => !skip.has(candidate.name));
      const route = chooseRoute(chain, this.rotation, avoid);
      if (route.kind === 'none') throw new UpstreamError('invalid_upstream_request', `No upstream serves the model "${model}"`, false, { status: 404 });
      if (route.waitMs > SHORT_WAIT_MS) throw new UpstreamUnavailableError(route.waitMs);
      if (route.waitMs > 0) {
        await abortableDelay(route.waitMs, signal);
        continue;
      }
      const statusOf = (name: string) => chain.flatMap((entry) => entry.candidates).find((candidate) => candidate.name === name)!.status;
      if (route.alternatives) return this.reserveEarliest([route.upstream, ...route.alternatives], route.model, options.tokens ?? 0, statusOf);
      const member = this.byName.get(route.upstream)!;
      if (!route.trial || !this.health) return { member, model: route.model, trial: false, clean: isClean(statusOf(route.upstream)) };
      const claim = await this.health.claimTrial(route.upstream).catch((error: unknown) => {
        throw new UpstreamGateError(error);
      });
      if (claim === 'in') return { member, model: route.model, trial: false, clean: false };
      if (claim === 'trial') return { member, model: route.model, trial: true, clean: false };
      skip.add(route.upstream); // another worker's call is the trial
    }
    throw new UpstreamUnavailableError(SHORT_WAIT_MS);
  }

  /** The call goes to whichever of `names` (in order of preference) has the earliest gate slot, reserved now. */
  private async reserveEarliest(names: string[], model: string, tokens: number, statusOf: (name: string) => UpstreamStatus): Promise<RoutedCall> {
    const members = names.map((name) => this.byName.get(name)!);
    const choose = async () => {
      // Without RPM/TPM there are no slots to compare: the one preferred.
      if (!members.some((member) => member.gate.limited)) return { index: 0, waitMs: undefined };
      return acquireEarliest(this.options.redis, members.map((member) => member.gate), tokens);
    };
    const { index, waitMs } = await choose();
    const member = members[index];
    return { member, model, trial: false, clean: isClean(statusOf(member.settings.name)), reservedWaitMs: waitMs };
  }

  /**
   * How soon an upstream other than `avoid` could take the job, for its model or a fallback,
   * as its last call's end left them: 0 at once; undefined when there is no such upstream (one
   * upstream and no fallbacks: never), or Redis cannot say.
   */
  async readyInMs(model: string, avoid: ReadonlySet<string> = new Set()): Promise<number | undefined> {
    if (this.members.length === 1 && !this.options.models.get(model)?.fallbacks.length) return undefined;
    return soonestElsewhere(await this.readChain(model).catch(() => []), avoid);
  }

  /** The request as this upstream takes it: the model under its `model_map` name. */
  requestFor(call: RoutedCall, request: UpstreamRequest): UpstreamRequest {
    const model = call.member.settings.modelMap[call.model] ?? call.model;
    return model === request.model ? request : { ...request, model };
  }

  /** Counts a call in flight on its upstream, fleet-wide; the function returned ends it. */
  callStarted(call: RoutedCall): () => void {
    const name = call.member.settings.name;
    const key = this.options.keys.upstreamInFlight(name);
    const id = randomUUID();
    const now = Date.now();
    const { redis } = this.options;
    // A lease, not a counter: a worker that dies mid-call leaves nothing counted for long (readers
    // count unexpired leases only; pruning the expired ones once a second per process is enough).
    // Plain commands leaving in the turn's one socket write: an ioredis pipeline copies every script
    // defined on the connection.
    coalesceWrites(redis);
    if (now - (this.prunedAt.get(name) ?? 0) >= PRUNE_IN_FLIGHT_EVERY_MS) {
      this.prunedAt.set(name, now);
      void redis.zremrangebyscore(key, '-inf', now).catch(() => undefined);
    }
    void redis.zadd(key, now + this.inFlightLeaseMs, id).catch(() => undefined);
    void redis.pexpire(key, this.inFlightLeaseMs).catch(() => undefined);
    return () => {
      coalesceWrites(redis);
      void redis.zrem(key, id).catch(() => undefined);
    };
  }

  /** An upstream's rate-limit headers: its gate learns from them, and their last values are kept for operators. */
  observe(call: RoutedCall, snapshot: RateLimitSnapshot): void {
    const { member } = call;
    void member.gate.observe(snapshot).catch(() => undefined);
    const seen: (string | number)[] = [];
    if (snapshot.remainingRequests !== undefined) seen.push('requests', snapshot.remainingRequests);
    if (snapshot.remainingTokens !== undefined) seen.push('tokens', snapshot.remainingTokens);
    if (!seen.length) return;
    const key = this.options.keys.upstreamRateLimit(member.settings.name);
    const { redis } = this.options;
    coalesceWrites(redis);
    void redis.hset(key, ...seen, 'at', Date.now()).catch(() => undefined);
    void redis.pexpire(key, RATE_LIMIT_SEEN_MS).catch(() => undefined);
  }

  /**
   * What a call's end says of its upstream, written before the job decides where to go next: a
   * 429 pauses that upstream (and only it), a 404 marks the model as not served there, and a
   * 5xx, timeout or broken connection counts toward taking it out. Never rejects.
   */
  async callEnded(call: RoutedCall, error?: unknown): Promise<void> {
    const name = call.member.settings.name;
    const writes: Promise<unknown>[] = [];
    if (error !== undefined) {
      const classified = classifyUpstreamError(error);
      if (classified.rateLimited) writes.push(call.member.gate.pause(classified.retryAfterMs ?? DEFAULT_RATE_LIMIT_PAUSE_MS));
      if (classified.status === 404) writes.push(this.options.redis.set(this.options.keys.upstreamNotServed(name, call.model), '1', 'PX', NOT_SERVED_MS));
    }
    const health = callHealth(error);
    if (this.health && !(health === 'ok' && call.clean && !call.trial)) {
      writes.push(
        this.health.record(name, health, call.trial).then(({ failures, out }) => {
          if (health === 'failed' && out && (call.trial || failures === this.health!.failuresToOut)) {
            this.options.logger.warn({ upstream: name, failures, out_ms: this.health!.outMs }, 'upstream taken out after failed calls in a row');
          }
        }),
      );
    }
    await Promise.all(writes.map((write) => write.catch((failure: unknown) => this.options.logger.warn({ err: failure, upstream: name }, 'upstream state not recorded'))));
  }

  /** The call was routed but never made (its upstream got paused first): a trial it held may go to another call. */
  async callAbandoned(call: RoutedCall): Promise<void> {
    if (!call.trial || !this.health) return;
    await this.health.record(call.member.settings.name, 'neutral', true).catch((failure: unknown) => this.options.logger.warn({ err: failure, upstream: call.member.settings.name }, 'upstream state not recorded'));
  }

  /** Another worker paused `upstream` for `ms` (its announcement). */
  notePause(upstream: string, ms: number): void {
    this.byName.get(upstream)?.gate.notePause(ms);
  }

  /** The names, in the configuration's order. */
  get names(): string[] {
    return this.members.map((member) => member.settings.name);
  }

  close(): void {
    for (const client of this.ownedClients) client.close();
  }
}

const isClean = (status: UpstreamStatus) => status.failures === 0 && status.outForMs === undefined;

