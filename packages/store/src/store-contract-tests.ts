import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobObject } from '@spool/contracts';
import { PRUNE_BATCH_SIZE, type Store, type TurnMessage } from './store.js';

/** One database for one test: `open` gives a new store on it, `cleanup` removes it. */
export interface StoreFixture {
  open(): Store;
  cleanup(): Promise<void>;
}

const now = () => Math.floor(Date.now() / 1000);

function turn(user: string, reply: string, at = now()): TurnMessage[] {
  return [
    { message: { role: 'user', content: user }, created_at: at },
    { message: { role: 'assistant', content: reply }, created_at: at + 1 },
  ];
}

function jobObject(id: string, overrides: Partial<JobObject> = {}): JobObject {
  return {
    id,
    object: 'job',
    status: 'succeeded',
    model: 'gpt-4o-mini',
    created_at: 1_700_000_000,
    started_at: 1_700_000_001,
    finished_at: 1_700_000_002,
    attempts: 1,
    priority: 5,
    session_id: null,
    batch_id: null,
    continues: null,
    metadata: { team: 'a' },
    stream_url: `/v1/jobs/${id}/events`,
    result: { content: 'hello', finish_reason: 'stop', usage: { prompt_tokens: 9, completion_tokens: 1, total_tokens: 10 } },
    partial: null,
    error: null,
    cost_usd: 0.000012,
    ...overrides,
  };
}

/** The session's messages, none when it is gone. */
async function messagesOf(store: Store, sessionId: string) {
  return (await store.getSession(sessionId, 'acme'))?.messages ?? [];
}

/** The session's due turns, none when it is gone. */
async function pendingOf(store: Store, sessionId: string) {
  return (await store.getSession(sessionId, 'acme'))?.pending ?? [];
}

/** The behaviour every Store promises, run against each backend. */
export function storeContractTests(name: string, setup: () => Promise<StoreFixture>): void {
  describe(`${name} store contract`, () => {
    let fixture: StoreFixture;
    let store: Store;
    const opened: Store[] = [];
    const open = () => {
      const next = fixture.open();
      opened.push(next);
      return next;
    };

    beforeEach(async () => {
      fixture = await setup();
      store = open();
    });
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((each) => each.close()));
      await fixture.cleanup();
    });

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    it('creates sessions with unguessable ids, visible only to their tenant', async () => {
      const before = now();
      const session = await store.createSession('acme');
      expect(session.id).toMatch(/^sess_[0-9A-Za-z]{20,}$/);
      expect(session.tenant).toBe('acme');
      expect(session.created_at).toBeGreaterThanOrEqual(before);
      expect(session.created_at).toBeLessThanOrEqual(now());
      expect(await store.getSession(session.id, 'acme')).toEqual({ ...session, messages: [], pending: [] });
      expect(await store.getSession(session.id, 'other')).toBeNull();
      expect(await store.getSession('sess_missing000000000000000', 'acme')).toBeNull();
      expect((await store.createSession('acme')).id).not.toBe(session.id);
    });

    it('appends turns in order and gives the history oldest first', async () => {
      const session = await store.createSession('acme');
      expect(await messagesOf(store, session.id)).toEqual([]);
      expect(await store.appendTurn(session.id, 'acme', 'job_1', turn('hi', 'hello', 100))).toBe(true);
      expect(await store.appendTurn(session.id, 'acme', 'job_2', turn('and then?', 'then this', 200))).toBe(true);
      expect(await messagesOf(store, session.id)).toEqual([
        { message: { role: 'user', content: 'hi' }, created_at: 100, job_id: 'job_1' },
        { message: { role: 'assistant', content: 'hello' }, created_at: 101, job_id: 'job_1' },
        { message: { role: 'user', content: 'and then?' }, created_at: 200, job_id: 'job_2' },
        { message: { role: 'assistant', content: 'then this' }, created_at: 201, job_id: 'job_2' },
      ]);
    });

    it('appends a job turn once however often it is asked (at-least-once handlers)', async () => {
      const session = await store.createSession('acme');
      expect(await store.appendTurn(session.id, 'acme', 'job_1', turn('hi', 'hello'))).toBe(true);
      expect(await store.appendTurn(session.id, 'acme', 'job_1', turn('hi', 'hello'))).toBe(false);
      await Promise.all([1, 2, 3].map(() => store.appendTurn(session.id, 'acme', 'job_2', turn('again', 'once'))));
      expect((await messagesOf(store, session.id)).map((entry) => entry.job_id)).toEqual(['job_1', 'job_1', 'job_2', 'job_2']);
    });

    it('keeps the turns that are due until each is written or settled without one', async () => {
      const session = await store.createSession('acme');
      await store.expectTurn(session.id, 'acme', 'job_1');
      await store.expectTurn(session.id, 'acme', 'job_2');
      await store.expectTurn(session.id, 'acme', 'job_1');
      expect(await pendingOf(store, session.id)).toEqual(['job_1', 'job_2']);
      expect(await store.appendTurn(session.id, 'acme', 'job_2', turn('hi', 'hello'))).toBe(true);
      expect(await pendingOf(store, session.id)).toEqual(['job_1']);
      expect(await store.appendTurn(session.id, 'acme', 'job_1', [])).toBe(false);
      expect(await pendingOf(store, session.id)).toEqual([]);
      expect((await messagesOf(store, session.id)).map((entry) => entry.job_id)).toEqual(['job_2', 'job_2']);
    });

    it('notes and writes turns only on a session of the tenant named', async () => {
      const session = await store.createSession('acme');
      expect(await store.expectTurn(session.id, 'other', 'job_1')).toBe(false);
      expect(await store.expectTurn('sess_missing000000000000000', 'acme', 'job_1')).toBe(false);
      expect(await store.expectTurn(session.id, 'acme', 'job_2')).toBe(true);
      expect(await store.appendTurn(session.id, 'other', 'job_2', turn('hi', 'hello'))).toBe(false);
      expect(await store.appendTurn(session.id, 'other', 'job_2', [])).toBe(false);
      expect(await store.getSession(session.id, 'acme')).toEqual({ ...session, messages: [], pending: ['job_2'] });
      expect(await store.appendTurn(session.id, 'acme', 'job_2', turn('hi', 'hello', 100))).toBe(true);
      expect(await store.getSession(session.id, 'acme')).toEqual({
        ...session,
        messages: [
          { message: { role: 'user', content: 'hi' }, created_at: 100, job_id: 'job_2' },
          { message: { role: 'assistant', content: 'hello' }, created_at: 101, job_id: 'job_2' },
        ],
        pending: [],
      });
    });

    it('lands every one of many racing turns whole, none interleaved', async () => {
      const session = await store.createSession('acme');
      const other = open();
      const jobs = Array.from({ length: 20 }, (_, index) => `job_${index}`);
      const results = await Promise.all(jobs.map((job, index) => (index % 2 ? other : store).appendTurn(session.id, 'acme', job, turn(`q ${job}`, `a ${job}`))));
      expect(results.every(Boolean)).toBe(true);
      const history = await messagesOf(store, session.id);
      expect(history).toHaveLength(40);
      for (let index = 0; index < history.length; index += 2) {
        expect(history[index].job_id).toBe(history[index + 1].job_id);
        expect(history[index].message).toEqual({ role: 'user', content: `q ${history[index].job_id}` });
        expect(history[index + 1].message).toEqual({ role: 'assistant', content: `a ${history[index].job_id}` });
      }
      expect(new Set(history.map((entry) => entry.job_id)).size).toBe(20);
    });

    it('keeps messages exactly as sent: content parts, names, null content', async () => {
      const session = await store.createSession('acme');
      const messages: TurnMessage[] = [
        { message: { role: 'system', content: 'be brief' }, created_at: 1 },
        { message: { role: 'user', content: [{ type: 'text', text: 'héllo ✓' }], name: 'ann' }, created_at: 1 },
        { message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function' }] }, created_at: 2 },
      ];
      await store.appendTurn(session.id, 'acme', 'job_1', messages);
      expect((await messagesOf(store, session.id)).map((entry) => entry.message)).toEqual(messages.map((entry) => entry.message));
    });

    it('does not append to a session that is gone', async () => {
      expect(await store.appendTurn('sess_missing000000000000000', 'acme', 'job_1', turn('hi', 'hello'))).toBe(false);
      const session = await store.createSession('acme');
      await store.deleteSession(session.id, 'acme');
      expect(await store.appendTurn(session.id, 'acme', 'job_1', turn('hi', 'hello'))).toBe(false);
    });

    it('deletes a session and its messages for its tenant only', async () => {
      const session = await store.createSession('acme');
      const kept = await store.createSession('acme');
      await store.appendTurn(session.id, 'acme', 'job_1', turn('hi', 'hello'));
      await store.appendTurn(kept.id, 'acme', 'job_2', turn('hi', 'hello'));
      expect(await store.deleteSession(session.id, 'other')).toBe(false);
      expect(await store.getSession(session.id, 'acme')).not.toBeNull();
      expect(await store.deleteSession(session.id, 'acme')).toBe(true);
      expect(await store.getSession(session.id, 'acme')).toBeNull();
      expect(await store.deleteSession(session.id, 'acme')).toBe(false);
      expect(await messagesOf(store, kept.id)).toHaveLength(2);
    });

    it('keeps the last job object put, for its tenant only', async () => {
      expect(await store.getJob('job_a', 'acme')).toBeNull();
      const running = jobObject('job_a', { status: 'running', finished_at: null, result: null });
      await store.putJob('acme', running);
      expect(await store.getJob('job_a', 'acme')).toEqual(running);
      const finished = jobObject('job_a', { session_id: 'sess_x', partial: { content: 'he', completion_tokens: 1 } });
      await store.putJob('acme', finished);
      await store.putJob('acme', finished);
      expect(await store.getJob('job_a', 'acme')).toEqual(finished);
      expect(JSON.stringify(await store.getJob('job_a', 'acme'))).toBe(JSON.stringify(finished));
      expect(await store.getJob('job_a', 'other')).toBeNull();
    });

    it('counts usage once per job, totalled per tenant and model', async () => {
      const record = { tenant: 'acme', model: 'gpt-4o-mini', promptTokens: 10, completionTokens: 5 };
      await store.recordUsage({ ...record, jobId: 'job_1' });
      await store.recordUsage({ ...record, jobId: 'job_1' });
      await store.recordUsage({ ...record, jobId: 'job_2', promptTokens: 1, completionTokens: 2 });
      await store.recordUsage({ ...record, jobId: 'job_3', model: 'gpt-4o' });
      await store.recordUsage({ ...record, jobId: 'job_4', tenant: 'other' });
      expect(await store.usage('acme')).toEqual([
        { model: 'gpt-4o', jobs: 1, prompt_tokens: 10, completion_tokens: 5 },
        { model: 'gpt-4o-mini', jobs: 2, prompt_tokens: 11, completion_tokens: 7 },
      ]);
      expect(await store.usage('nobody')).toEqual([]);
    });

    it('keeps spend once per job (the latest record of it), summed per tenant and month, across a reopen', async () => {
      const spend = { tenant: 'acme', month: '2031-05', costNanoUsd: 1_500, requests: 1, promptTokens: 10, completionTokens: 5 };
      expect(await store.spend('acme', '2031-05')).toEqual({ costNanoUsd: 0, requests: 0, promptTokens: 0, completionTokens: 0 });
      await store.recordSpend({ ...spend, jobId: 'job_1' });
      await store.recordSpend({ ...spend, jobId: 'job_1' });
      // Recorded again after a late settlement: the newer figures replace the old, never add to them.
      await store.recordSpend({ ...spend, jobId: 'job_2', costNanoUsd: 2_000, requests: 1, promptTokens: 20 });
      await store.recordSpend({ ...spend, jobId: 'job_2', costNanoUsd: 9_000_000_000_123, requests: 2, promptTokens: 30 });
      await store.recordSpend({ ...spend, jobId: 'job_3', month: '2031-06' });
      await store.recordSpend({ ...spend, jobId: 'job_4', tenant: 'other' });
      const expected = { costNanoUsd: 9_000_000_001_623, requests: 3, promptTokens: 40, completionTokens: 10 };
      expect(await store.spend('acme', '2031-05')).toEqual(expected);
      expect(await store.spend('acme', '2031-06')).toEqual({ costNanoUsd: 1_500, requests: 1, promptTokens: 10, completionTokens: 5 });
      expect(await store.spend('other', '2031-05')).toMatchObject({ costNanoUsd: 1_500 });
      await store.close();
      expect(await open().spend('acme', '2031-05')).toEqual(expected);
    });

    it('prunes spend of past months older than the cutoff, never the current month', async () => {
      const thisMonth = new Date().toISOString().slice(0, 7);
      const spend = { tenant: 'acme', costNanoUsd: 7, requests: 1, promptTokens: 1, completionTokens: 1 };
      await store.recordSpend({ ...spend, jobId: 'job_past', month: '2000-01' });
      await store.recordSpend({ ...spend, jobId: 'job_now', month: thisMonth });
      expect((await store.prune(now() + 1000)).usage).toBe(1);
      expect(await store.spend('acme', '2000-01')).toMatchObject({ costNanoUsd: 0 });
      expect(await store.spend('acme', thisMonth)).toMatchObject({ costNanoUsd: 7 });
    });

    it('prunes job records, usage and idle sessions older than the cutoff, and nothing newer', async () => {
      const cutoff = now() + 1000;
      await store.putJob('acme', jobObject('job_old'));
      await store.putJob('acme', jobObject('job_new', { created_at: cutoff }));
      await store.recordUsage({ tenant: 'acme', jobId: 'job_old', model: 'gpt-4o-mini', promptTokens: 1, completionTokens: 1 });
      const idle = await store.createSession('acme');
      await store.appendTurn(idle.id, 'acme', 'job_0', turn('hi', 'hello', cutoff - 10));
      const talked = await store.createSession('acme');
      await store.appendTurn(talked.id, 'acme', 'job_1', turn('hi', 'hello', cutoff));
      const waiting = await store.createSession('acme');
      await store.expectTurn(waiting.id, 'acme', 'job_2');

      expect(await store.prune(now() - 100)).toEqual({ jobs: 1, usage: 0, sessions: 0 });
      expect(await store.getJob('job_old', 'acme')).toBeNull();
      expect(await store.getJob('job_new', 'acme')).not.toBeNull();

      // Everything made now is older than the cutoff: only what was touched since stays.
      const pruned = await store.prune(cutoff);
      expect(pruned.usage).toBe(1);
      expect(pruned.sessions).toBe(2);
      expect(await store.getSession(idle.id, 'acme')).toBeNull();
      expect(await store.getSession(waiting.id, 'acme')).toBeNull();
      expect(await store.getSession(talked.id, 'acme')).not.toBeNull();
      expect(await messagesOf(store, talked.id)).toHaveLength(2);
      expect(await store.getJob('job_new', 'acme')).not.toBeNull();
      expect(await store.usage('acme')).toEqual([]);
      // Idempotent: a second run (another worker's) finds nothing.
      expect(await store.prune(cutoff)).toEqual({ jobs: 0, usage: 0, sessions: 0 });
    });

    it('prunes a backlog larger than one batch', async () => {
      const count = PRUNE_BATCH_SIZE * 2 + 5;
      for (let i = 0; i < count; i += 5) await Promise.all([0, 1, 2, 3, 4].map((j) => store.putJob('acme', jobObject(`job_${i + j}`))));
      expect((await store.prune(now())).jobs).toBe(count);
      expect(await store.getJob('job_0', 'acme')).toBeNull();
    });

    it('keeps everything across a reopen, and migrating again changes nothing', async () => {
      const session = await store.createSession('acme');
      await store.appendTurn(session.id, 'acme', 'job_1', turn('hi', 'hello'));
      await store.putJob('acme', jobObject('job_1'));
      await store.close();
      const [first, second] = [open(), open()];
      await Promise.all([first.ping(), second.ping()]);
      expect(await second.getSession(session.id, 'acme')).toMatchObject(session);
      expect(await messagesOf(first, session.id)).toHaveLength(2);
      expect(await second.getJob('job_1', 'acme')).toEqual(jobObject('job_1'));
    });
  });
}
