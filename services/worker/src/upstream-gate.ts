import { randomUUID } from 'node:crypto';
import type { UpstreamRequest } from '@spool/contracts';
import { contextWindow, MAX_RETRY_AFTER_MS, type RateLimitSnapshot } from '@spool/llm';
import { defineCommands, type RedisClient } from '@spool/queue';
import { WorkerError } from './errors.js';

/** Slots are spaced a little wider than the limit, so clock jitter between hosts does not tip calls over it. */
const SPACING_MARGIN = 1.02;
/** Tokens charged for a reply of unknown length until usage corrects it. */
const DEFAULT_COMPLETION_ESTIMATE = 256;
/** The longest `setTimeout` Node honours (a longer one fires at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** OpenAI's short window: at most RPM/12 (+ 1) requests in any 5 s. */
const SHORT_WINDOW_MS = 5000;

/**
 * The tokens a call is charged before it runs: its prompt and the longest reply it may get, but
 * never more than the model's whole window (upstream refuses a call that asks for more).
 */
export function estimateTokens(request: UpstreamRequest, promptTokens: number): number {
  const limit = request.max_completion_tokens ?? request.max_tokens;
  const reply = typeof limit === 'number' ? limit : DEFAULT_COMPLETION_ESTIMATE;
  return Math.min(promptTokens + reply, contextWindow(request.model));
}

/**
 * The upstream was paused (a 429) while a call waited for its gate: a caller that has other
 * upstreams to go to leaves rather than wait out the pause (API.md §13: the job goes elsewhere at once).
 */
export class UpstreamPausedError extends WorkerError {
  constructor(readonly pausedForMs: number) {
    super('upstream_paused', `the upstream is paused for ${pausedForMs} ms`);
  }
}

/** The gate's own store (Redis) failed: the call never went upstream, and the job should wait, not fail. */
export class UpstreamGateError extends WorkerError {
  constructor(cause: unknown) {
    super('upstream_gate_unavailable', 'the upstream gate could not be reached', { cause });
  }
}

const script = (name: string) => new URL(`./commands/${name}.lua`, import.meta.url);

/** KEYS: 1 the gate hash (`keys.upstreamGate()`), or its departures (`keys.upstreamDepartures()`). */
const GATE_COMMANDS = {
  spoolGateAcquire: { numberOfKeys: 1, script: script('gate-acquire') },
  spoolGateDepart: { numberOfKeys: 1, script: script('gate-depart') },
  /** KEYS: the candidates' gate hashes; the caller passes how many first */
  spoolGateAcquireEarliest: { script: script('gate-acquire-earliest') },
  spoolGatePause: { numberOfKeys: 1, script: script('gate-pause') },
  spoolGateAdjust: { numberOfKeys: 1, script: script('gate-adjust-tokens') },
  spoolGatePausedFor: { numberOfKeys: 1, script: script('gate-paused-for') },
};

interface GateCommands {
  spoolGatePausedFor(key: string): Promise<number>;
  spoolGateAcquire(key: string, requestGap: number, tokens: number, tokenGap: number, leaveWhenPaused: string): Promise<number>;
  spoolGateDepart(key: string, most: number, windowMs: number, member: string): Promise<number>;
  spoolGateAcquireEarliest(numberOfKeys: number, ...keysThenArgs: (string | number)[]): Promise<[number, number]>;
  spoolGatePause(key: string, ms: number): Promise<number>;
  spoolGateAdjust(key: string, ms: number): Promise<number>;
}

export interface UpstreamGateOptions {
  /** SPOOL_UPSTREAM_RPM */
  rpm?: number;
  /** SPOOL_UPSTREAM_TPM */
  tpm?: number;
  /** where a pause is announced to every worker (`keys.upstreamPauseChannel()`); none: not announced */
  pauseChannel?: string;
  /** the upstream's name in that announcement; default `default` */
  upstream?: string;
  /**
   * where calls' departures are counted (`keys.upstreamDepartures()`): with an RPM, a call that
   * leaves its slot late still waits until the last 5 s hold fewer than RPM/12 departures
   */
  departuresKey?: string;
}

/** A pause as announced to every worker. */
export interface PauseAnnouncement {
  upstream: string;
  ms: number;
}

/** The announcement in a pause channel's message; undefined for one that is not. */
export function parsePauseAnnouncement(message: string): PauseAnnouncement | undefined {
  try {
    const parsed = JSON.parse(message) as Partial<PauseAnnouncement>;
    return typeof parsed.upstream === 'string' && typeof parsed.ms === 'number' ? { upstream: parsed.upstream, ms: parsed.ms } : undefined;
  } catch {
    return undefined;
  }
}

/** Sleeps `ms` (longer than a timer allows, in steps), or until `signal` aborts. */
export async function abortableDelay(ms: number, signal?: AbortSignal): Promise<void> {
  const until = Date.now() + ms;
  for (let left = ms; left > 0 && !signal?.aborted; left = until - Date.now()) await abortableTimer(Math.min(left, MAX_TIMER_MS), signal);
}

function abortableTimer(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * One upstream's gate in Redis, shared by every worker process: it spaces calls to fit the
 * upstream's `rpm`/`tpm` (SPOOL_UPSTREAM_RPM/TPM for the one of the environment), holds every
 * call to it back while it said 429, and learns from its `x-ratelimit-*` headers and from the
 * usage it reports.
 */
export class UpstreamGate {
  private readonly redis: RedisClient & GateCommands;
  /** ms between two calls' slots (its RPM), and ms a token (its TPM); 0: no such limit */
  readonly requestGapMs: number;
  readonly msPerToken: number;
  private readonly pauseChannel?: string;
  private readonly upstream: string;
  private readonly departures?: { key: string; most: number };
  /** the latest pause this process knows of (its own, or another's announcement) */
  private pausedUntil = 0;

  constructor(redis: RedisClient, readonly key: string, options: UpstreamGateOptions = {}) {
    defineCommands(redis, GATE_COMMANDS);
    this.redis = redis as RedisClient & GateCommands;
    this.requestGapMs = options.rpm ? (60_000 / options.rpm) * SPACING_MARGIN : 0;
    this.msPerToken = options.tpm ? (60_000 / options.tpm) * SPACING_MARGIN : 0;
    this.pauseChannel = options.pauseChannel;
    this.upstream = options.upstream ?? 'default';
    // One below the promise of RPM/12 + 1: what leaves here still has a call of room upstream.
    if (options.rpm && options.departuresKey) this.departures = { key: options.departuresKey, most: Math.max(1, Math.floor(options.rpm / 12)) };
  }

  /** It has an RPM or a TPM to space calls by. */
  get limited(): boolean {
    return this.requestGapMs > 0 || this.msPerToken > 0;
  }

  /**
   * Waits for this call's slot; `tokens` is the estimate the TPM budget is charged. Resolves with
   * the ms the gate told this call to wait (a `signal` that ends the wait early leaves its slot
   * reserved); rejects with `UpstreamGateError`, or with `UpstreamPausedError` when
   * `leaveWhenPaused` and the upstream is (or gets) paused before the slot comes.
   * `reservedWaitMs`: a slot was reserved for this call already (`acquireEarliest`), this long from now.
   */
  async acquire(tokens: number, signal?: AbortSignal, reservedWaitMs?: number, leaveWhenPaused = false): Promise<number> {
    // With no RPM/TPM there is nothing to space: only a 429 pause holds calls, and every pause is
    // announced to every worker (routing reads it from Redis too, where there is a choice).
    if (reservedWaitMs === undefined && !this.limited && Date.now() >= this.pausedUntil) return 0;
    let held = 0;
    let reserved = reservedWaitMs;
    let paused = 0;
    try {
      for (;;) {
        const wait = reserved ?? (await this.redis.spoolGateAcquire(this.key, this.requestGapMs, tokens, this.msPerToken, leaveWhenPaused ? '1' : '0'));
        reserved = undefined;
        if (wait < 0) {
          paused = -wait;
          break;
        }
        if (wait > 0) {
          held += wait;
          await abortableDelay(wait, signal);
          if (signal?.aborted) return held;
          // A 429 may have paused the gate while this call slept: then it takes a new slot after the pause (or leaves).
          const pausedFor = await this.redis.spoolGatePausedFor(this.key);
          if (pausedFor > 0 && leaveWhenPaused) {
            paused = pausedFor;
            break;
          }
          if (pausedFor > 0) continue;
        }
        return held + (await this.depart(signal));
      }
    } catch (error) {
      throw new UpstreamGateError(error);
    }
    throw new UpstreamPausedError(paused);
  }

  /** Waits until the last 5 s hold room for one more departure, and records this one; the ms it waited. */
  private async depart(signal?: AbortSignal): Promise<number> {
    if (!this.departures) return 0;
    const member = randomUUID();
    let held = 0;
    for (;;) {
      const wait = await this.redis.spoolGateDepart(this.departures.key, this.departures.most, SHORT_WINDOW_MS, member);
      if (wait <= 0) return held;
      held += wait;
      await abortableDelay(wait, signal);
      if (signal?.aborted) return held;
    }
  }

  /** Holds every call back for `ms` (upstream answered 429). */
  async pause(ms: number): Promise<void> {
    const wait = Math.min(Math.ceil(ms), MAX_RETRY_AFTER_MS);
    this.notePause(wait);
    await this.redis.spoolGatePause(this.key, wait);
    // Jobs other workers took before the pause would otherwise call on, unaware, until they see it in Redis.
    if (this.pauseChannel) await this.redis.publish(this.pauseChannel, JSON.stringify({ upstream: this.upstream, ms: wait } satisfies PauseAnnouncement));
  }

  /** Another worker paused the gate for `ms` from now: this process's calls check the gate in Redis until then. */
  notePause(ms: number): void {
    if (Number.isFinite(ms) && ms > 0) this.pausedUntil = Math.max(this.pausedUntil, Date.now() + ms);
  }

  /** Charges the difference between the estimate and what upstream used (0 gives the whole charge back). */
  async correct(estimatedTokens: number, actualTokens: number): Promise<void> {
    if (!this.msPerToken || actualTokens === estimatedTokens) return;
    await this.redis.spoolGateAdjust(this.key, (actualTokens - estimatedTokens) * this.msPerToken);
  }

  /**
   * Upstream says its budget is spent: hold calls until one more request (or the tokens of one)
   * frees up, not until the whole window resets, which at a steady load at the limit never comes.
   */
  async observe(snapshot: RateLimitSnapshot): Promise<void> {
    const waits: number[] = [];
    if (snapshot.remainingRequests === 0 && snapshot.resetRequestsMs) {
      waits.push(Math.min(snapshot.resetRequestsMs, snapshot.limitRequests ? 60_000 / snapshot.limitRequests : Infinity));
    }
    if (snapshot.remainingTokens === 0 && snapshot.resetTokensMs) {
      waits.push(Math.min(snapshot.resetTokensMs, snapshot.limitTokens ? (60_000 / snapshot.limitTokens) * 1000 : Infinity));
    }
    if (waits.length) await this.pause(Math.max(...waits));
  }
}

/**
 * Reserves the earliest slot among several upstreams' gates (the first listed on a tie) in one
 * step: the index of the gate chosen, and how long its slot is from now. Every gate must share
 * `redis`. Rejects only with `UpstreamGateError`.
 */
export async function acquireEarliest(redis: RedisClient, gates: readonly UpstreamGate[], tokens: number): Promise<{ index: number; waitMs: number }> {
  defineCommands(redis, GATE_COMMANDS);
  const args = gates.flatMap((gate) => [gate.requestGapMs, gate.msPerToken]);
  try {
    const [index, waitMs] = await (redis as RedisClient & GateCommands).spoolGateAcquireEarliest(gates.length, ...gates.map((gate) => gate.key), tokens, ...args);
    return { index: index - 1, waitMs };
  } catch (error) {
    throw new UpstreamGateError(error);
  }
}
