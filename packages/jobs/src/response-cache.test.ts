import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { JobResult, UpstreamRequest } from '@spool/contracts';
import { createKeys } from '@spool/queue';
import { decodeEntry, eventData } from '@spool/stream';
import { cacheEntryBytes, cachedDeltas, canonicalJson, requestHash, ResponseCache } from './response-cache.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const result = (content: string): JobResult => ({ content, finish_reason: 'stop', usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } });
const request = (extra: Record<string, unknown> = {}): UpstreamRequest => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], ...extra });

describe('requestHash', () => {
  it('is the same for requests that differ only in key order, at any depth, or in top-level nulls', () => {
    const a = { model: 'm', messages: [{ role: 'user' as const, content: 'x' }], response_format: { type: 'json_schema', json_schema: { name: 'n', strict: true } } };
    const b = { response_format: { json_schema: { strict: true, name: 'n' }, type: 'json_schema' }, messages: [{ content: 'x', role: 'user' as const }], model: 'm', temperature: null };
    expect(requestHash(a)).toBe(requestHash(b));
    expect(requestHash(a)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('differs when any value differs, array order included', () => {
    const base = request({ temperature: 0.5 });
    expect(requestHash(base)).not.toBe(requestHash(request({ temperature: 0.6 })));
    expect(requestHash(base)).not.toBe(requestHash({ ...base, model: 'gpt-4o' }));
    const two = request({ messages: [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }] });
    const swapped = request({ messages: [{ role: 'user', content: 'b' }, { role: 'user', content: 'a' }] });
    expect(requestHash(two)).not.toBe(requestHash(swapped));
    // Another end user, or the same text in another Unicode form (other bytes upstream, other tokens), is another request.
    expect(requestHash(request({ user: 'a' }))).not.toBe(requestHash(request({ user: 'b' })));
    const composed = request({ messages: [{ role: 'user', content: 'caf\u00e9' }] });
    const decomposed = request({ messages: [{ role: 'user', content: 'cafe\u0301' }] });
    expect(requestHash(composed)).not.toBe(requestHash(decomposed));
  });

  it('writes canonical JSON that parses back to the same value', () => {
    const value = { b: [1, { d: 'x', c: null }], a: 'é"' };
    expect(canonicalJson(value)).toBe('{"a":"é\\"","b":[1,{"c":null,"d":"x"}]}');
    expect(JSON.parse(canonicalJson(value))).toEqual(value);
  });
});

describe('cachedDeltas', () => {
  const texts = (entries: string[]) => entries.map((entry, index) => eventData(decodeEntry(index + 1, entry), 'delta')!.content);

  it('is one delta for a short reply, a few for a long one, and they join to the reply', () => {
    expect(texts(cachedDeltas('hello'))).toEqual(['hello']);
    const long = 'x'.repeat(40_000);
    const parts = texts(cachedDeltas(long));
    expect(parts.length).toBe(3);
    expect(parts.join('')).toBe(long);
  });

  it('never splits a surrogate pair', () => {
    const text = `${'a'.repeat(16 * 1024 - 1)}😀 end`;
    const parts = texts(cachedDeltas(text));
    expect(parts.join('')).toBe(text);
    for (const part of parts) expect(part).not.toMatch(/^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/);
  });
});

/** The cache's scripts driven directly on real Redis: cache-get, cache-join and cache-end. */
describe('ResponseCache', () => {
  const keys = createKeys(`test-${randomUUID().slice(0, 12)}`);
  let redis: Redis;
  let cache: ResponseCache;
  const record = { tenant: 'acme', on_interrupt: 'continue' as const };
  const hashOf = (name: string) => requestHash(request({ user: name }));

  beforeAll(() => {
    redis = new Redis(REDIS_URL);
    cache = new ResponseCache(redis, keys, { maxEntryBytes: 2000, tenantMaxBytes: 5000 });
  });
  afterAll(async () => {
    const found = await redis.keys(`${keys.prefix}:*`);
    if (found.length) await redis.unlink(...found);
    await redis.quit();
  });

  it('makes the first job the leader, the next ones its followers, and the leader again the leader', async () => {
    const entry = { hash: hashOf('lead'), ttl_s: 60 };
    expect(await cache.join(record, 'job_a', entry)).toEqual({ kind: 'lead' });
    expect(await cache.join(record, 'job_b', entry)).toEqual({ kind: 'follow', leader: 'job_a' });
    expect(await cache.join(record, 'job_a', entry)).toEqual({ kind: 'lead' });
    // Another tenant, or another on_interrupt, is another group.
    expect(await cache.join({ ...record, tenant: 'other' }, 'job_c', entry)).toEqual({ kind: 'lead' });
    expect(await cache.join({ ...record, on_interrupt: 'restart' }, 'job_d', entry)).toEqual({ kind: 'lead' });
  });

  it('lets a follower that saw its leader end take its place; the others then follow the new one', async () => {
    const entry = { hash: hashOf('takeover'), ttl_s: 60 };
    await cache.join(record, 'job_a', entry);
    expect(await cache.join(record, 'job_b', entry, 'job_a')).toEqual({ kind: 'lead' });
    expect(await cache.join(record, 'job_c', entry, 'job_a')).toEqual({ kind: 'follow', leader: 'job_b' });
  });

  it('ends a leadership only for its leader, caches the result, and then answers joins and lookups with it', async () => {
    const entry = { hash: hashOf('cached'), ttl_s: 60 };
    await cache.join(record, 'job_a', entry);
    expect(await cache.ended(record, 'job_x', entry, null)).toBe(false);
    expect(await cache.join(record, 'job_b', entry)).toEqual({ kind: 'follow', leader: 'job_a' });
    expect(await cache.ended(record, 'job_a', entry, result('the reply'))).toBe(true);
    expect(await redis.exists(keys.mergeLeader('acme', `${entry.hash}:continue`))).toBe(0);
    expect(await cache.join(record, 'job_c', entry)).toEqual({ kind: 'hit', result: result('the reply') });
    expect(await cache.lookup('acme', entry)).toEqual(result('the reply'));
    expect(await cache.lookup('other', entry)).toBeNull();
  });

  it('applies each reader’s ttl to the result’s age, and keeps the entry as long as the longest ttl asked', async () => {
    const entry = { hash: hashOf('aged'), ttl_s: 3600 };
    await cache.ended(record, 'job_a', entry, result('old'));
    const key = keys.cacheEntry('acme', entry.hash);
    await redis.hincrby(key, 'at', -5000); // written five seconds ago
    expect(await cache.lookup('acme', { ...entry, ttl_s: 4 })).toBeNull();
    expect(await cache.join(record, 'job_b', { ...entry, ttl_s: 4 })).toEqual({ kind: 'lead' });
    expect(await cache.lookup('acme', { ...entry, ttl_s: 6 })).toEqual(result('old'));
    // A newer result with a shorter ttl replaces it, and the entry still lives an hour.
    await cache.ended(record, 'job_b', { ...entry, ttl_s: 4 }, result('new'));
    expect(await cache.lookup('acme', { ...entry, ttl_s: 4 })).toEqual(result('new'));
    expect(await redis.ttl(key)).toBeGreaterThan(3000);
  });

  it('leaves an entry as it is when asked to keep it (the outbox after the leader cached it)', async () => {
    const entry = { hash: hashOf('keep'), ttl_s: 60 };
    await cache.ended(record, 'job_a', entry, result('first'));
    expect(await cache.ended(record, 'job_a', entry, result('second'), true)).toBe(false);
    expect(await cache.lookup('acme', entry)).toEqual(result('first'));
  });

  it('skips a result over the entry limit, still ending the leadership', async () => {
    const entry = { hash: hashOf('large'), ttl_s: 60 };
    await cache.join(record, 'job_a', entry);
    expect(await cache.ended(record, 'job_a', entry, result('x'.repeat(2500)))).toBe(false);
    expect(await cache.lookup('acme', entry)).toBeNull();
    expect(await cache.join(record, 'job_b', entry)).toEqual({ kind: 'lead' });
  });

  it('counts against the tenant’s bytes what Redis spends on an entry (its key, expiry and size too), not only the reply', async () => {
    const tenant = { ...record, tenant: 'measured' };
    const roomy = new ResponseCache(redis, keys);
    const count = 300;
    const hashes = Array.from({ length: count }, (_, index) => hashOf(`measured ${index}`));
    for (const hash of hashes) expect(await roomy.ended(tenant, 'job_a', { hash, ttl_s: 60 }, result('ok'))).toBe(true);
    const usage = async (key: string) => Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
    let spent = (await usage(keys.cacheExpiry('measured'))) + (await usage(keys.cacheSizes('measured')));
    for (const hash of hashes) spent += await usage(keys.cacheEntry('measured', hash));
    const counted = Number(await redis.hget(keys.cacheSizes('measured'), 'total'));
    expect(counted / spent).toBeGreaterThan(0.8);
    expect(counted / spent).toBeLessThan(1.5);
  });

  it('caches no more than the tenant’s bytes; expired entries give theirs back', async () => {
    const tenant = { ...record, tenant: 'budget' };
    const big = result('y'.repeat(1500));
    const size = cacheEntryBytes(keys.cacheEntry('budget', hashOf('b1')), hashOf('b1'), JSON.stringify(big));
    expect(size).toBeGreaterThan(5000 / 3);
    const stored = [];
    for (const name of ['b1', 'b2', 'b3']) stored.push(await cache.ended(tenant, 'job_a', { hash: hashOf(name), ttl_s: 60 }, big));
    expect(stored).toEqual([true, true, false]); // 5,000 bytes hold two
    expect(Number(await redis.hget(keys.cacheSizes('budget'), 'total'))).toBe(2 * size);
    // Replacing an entry counts its new size only.
    expect(await cache.ended(tenant, 'job_a', { hash: hashOf('b1'), ttl_s: 60 }, big)).toBe(true);
    expect(Number(await redis.hget(keys.cacheSizes('budget'), 'total'))).toBe(2 * size);

    await redis.zadd(keys.cacheExpiry('budget'), 1, hashOf('b1')); // b1 expired
    expect(await cache.ended(tenant, 'job_a', { hash: hashOf('b3'), ttl_s: 60 }, big)).toBe(true);
    expect(Number(await redis.hget(keys.cacheSizes('budget'), 'total'))).toBe(2 * size);
    expect(await redis.zrange(keys.cacheExpiry('budget'), '0', '-1')).toEqual(expect.arrayContaining([hashOf('b2'), hashOf('b3')]));
  });
});
