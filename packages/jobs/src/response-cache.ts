import { createHash } from 'node:crypto';
import type { JobResult, UpstreamRequest } from '@spool/contracts';
import { defineCommands, type Keys, type RedisClient } from '@spool/queue';
import { encodeEvent } from '@spool/stream';
import { CACHE_COMMANDS, type CacheCommands } from './commands.js';
import type { JobRecord } from './job-record.js';
import type { JobEndedHandler } from './outbox.js';

/** What a job records of its `cache` option: the request's hash and how old a reply it takes. */
export interface JobCache {
  hash: string;
  ttl_s: number;
}

export interface ResponseCacheOptions {
  /** a result whose JSON is larger is not cached (SPOOL_CACHE_MAX_ENTRY_BYTES, 1 MiB) */
  maxEntryBytes?: number;
  /** the results one tenant has cached at once, at most, in bytes (SPOOL_CACHE_TENANT_MAX_BYTES, 64 MiB); past it nothing more is cached until entries expire */
  tenantMaxBytes?: number;
  /** how long a merge leader's key outlives a leader that died without ending, s; default 1 h */
  leaderLeaseSeconds?: number;
}

/** What a cache-opted job does next: take a cached result, follow an identical job's call, or make the call itself. */
export type JoinDecision = { kind: 'hit'; result: JobResult } | { kind: 'follow'; leader: string } | { kind: 'lead' };

/**
 * What Redis spends on a cache entry besides its reply and key names: the entry's hash and key,
 * its member of the tenant's expiry set and its field of their sizes (measured with MEMORY USAGE:
 * about 730 bytes for a 100-byte reply under a 100-byte key).
 */
const ENTRY_OVERHEAD_BYTES = 400;

/** The bytes a cache entry counts against its tenant's budget: its reply's JSON and what Redis spends to keep it. */
export function cacheEntryBytes(entryKey: string, hash: string, json: string): number {
  return Buffer.byteLength(json) + Buffer.byteLength(entryKey) + 2 * hash.length + ENTRY_OVERHEAD_BYTES;
}

/** A cached reply is sent as deltas of at most this many characters: one or a few events. */
const DELTA_CHARS = 16 * 1024;

/** JSON with every object's keys in sorted order: the same text for requests that differ only in key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item ?? null)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The cache key of an upstream request (defaults applied, Spool's own fields gone): sha256 of its
 * canonical JSON. A top-level `null` is OpenAI's "unset", the same as leaving the field out.
 */
export function requestHash(request: UpstreamRequest): string {
  const set = Object.fromEntries(Object.entries(request).filter(([, value]) => value !== null));
  return createHash('sha256').update(canonicalJson(set)).digest('hex');
}

/**
 * Jobs merge only with twins that stream the same way: a reply that starts over (`reset`) is
 * allowed only with `on_interrupt: "restart"`.
 */
function mergeKey(hash: string, onInterrupt: JobRecord['on_interrupt']): string {
  return `${hash}:${onInterrupt}`;
}

/** A cached reply as `delta` entries of a job's log: one, or a few for a long reply. */
export function cachedDeltas(content: string): string[] {
  const entries: string[] = [];
  for (let start = 0; start < content.length; ) {
    let end = Math.min(start + DELTA_CHARS, content.length);
    // Never split a surrogate pair: each delta is valid text on its own.
    if (end < content.length && /[\uD800-\uDBFF]/.test(content[end - 1])) end--;
    entries.push(encodeEvent('delta', { content: content.slice(start, end) }));
    start = end;
  }
  return entries;
}

/** Whether a job's result was produced by an upstream call of its own (not the cache, not a twin's call): only those cost anything. */
export function spentUpstream(record: Pick<JobRecord, 'cached' | 'merged_with'>): boolean {
  return !record.cached && !record.merged_with;
}

/**
 * The response cache and the merging of identical requests, per tenant, in Redis: cached
 * results (with their ttl, within a byte budget per tenant) and the leader of each group of
 * identical jobs running now. The store keeps none of it.
 */
export class ResponseCache {
  private readonly redis: RedisClient & CacheCommands;
  readonly maxEntryBytes: number;
  readonly tenantMaxBytes: number;
  private readonly leaderLeaseSeconds: number;

  /** The cache with the limits of the process's configuration (SPOOL_CACHE_MAX_ENTRY_BYTES, SPOOL_CACHE_TENANT_MAX_BYTES). */
  static fromConfig(redis: RedisClient, keys: Keys, config: { cacheMaxEntryBytes: number; cacheTenantMaxBytes: number }): ResponseCache {
    return new ResponseCache(redis, keys, { maxEntryBytes: config.cacheMaxEntryBytes, tenantMaxBytes: config.cacheTenantMaxBytes });
  }

  constructor(
    redis: RedisClient,
    private readonly keys: Keys,
    options: ResponseCacheOptions = {},
  ) {
    defineCommands(redis, CACHE_COMMANDS);
    this.redis = redis as RedisClient & CacheCommands;
    this.maxEntryBytes = options.maxEntryBytes ?? 1024 * 1024;
    this.tenantMaxBytes = options.tenantMaxBytes ?? 64 * 1024 * 1024;
    this.leaderLeaseSeconds = options.leaderLeaseSeconds ?? 3600;
  }

  /** The tenant's cached result for this request if it is less than `ttlSeconds` old. */
  async lookup(tenant: string, cache: JobCache): Promise<JobResult | null> {
    const result = await this.redis.spoolCacheGet(this.keys.cacheEntry(tenant, cache.hash), cache.ttl_s * 1000);
    return result ? (JSON.parse(result) as JobResult) : null;
  }

  /**
   * Decides, in one step, what a cache-opted job does: a fresh cached result, an identical job
   * queued or running to follow, or the call to make itself (it is then the leader others follow).
   * `former` is a leader this job saw end without a result: it takes its place.
   */
  async join(record: Pick<JobRecord, 'tenant' | 'on_interrupt'>, jobId: string, cache: JobCache, former = ''): Promise<JoinDecision> {
    const reply = await this.redis.spoolCacheJoin(
      this.keys.cacheEntry(record.tenant, cache.hash),
      this.keys.mergeLeader(record.tenant, mergeKey(cache.hash, record.on_interrupt)),
      jobId,
      cache.ttl_s * 1000,
      former,
      this.leaderLeaseSeconds,
    );
    if (reply[0] === 'hit') return { kind: 'hit', result: JSON.parse(reply[1]) as JobResult };
    if (reply[0] === 'follow') return { kind: 'follow', leader: reply[1] };
    return { kind: 'lead' };
  }

  /**
   * A cache-opted job's own call ended: it stops leading, and `result` (when it succeeded) is
   * cached for the tenant, unless it is over the size limits; `keep` leaves an entry already
   * there. True when the result was cached.
   */
  async ended(record: Pick<JobRecord, 'tenant' | 'on_interrupt'>, jobId: string, cache: JobCache, result: JobResult | null, keep = false): Promise<boolean> {
    let json = result ? JSON.stringify(result) : '';
    if (Buffer.byteLength(json) > this.maxEntryBytes) json = '';
    const entryKey = this.keys.cacheEntry(record.tenant, cache.hash);
    const cached = await this.redis.spoolCacheEnd(
      entryKey,
      this.keys.mergeLeader(record.tenant, mergeKey(cache.hash, record.on_interrupt)),
      this.keys.cacheExpiry(record.tenant),
      this.keys.cacheSizes(record.tenant),
      jobId,
      cache.hash,
      json,
      cache.ttl_s,
      this.tenantMaxBytes,
      keep ? '1' : '0',
      json ? cacheEntryBytes(entryKey, cache.hash, json) : 0,
    );
    return cached === 1;
  }

  /**
   * The outbox's part: once a cache-opted job has ended, however it ended, it leads no more, and
   * a result of its own call is cached (if its worker died before doing so).
   */
  readonly onJobEnded: JobEndedHandler = async (job, record) => {
    if (!record.cache) return;
    const result = job.status === 'succeeded' && spentUpstream(record) ? job.result : null;
    await this.ended(record, job.id, record.cache, result, true);
  };
}
