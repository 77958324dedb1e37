import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '@spool/contracts';
import { countPromptTokens } from '@spool/llm';
import type { SessionMessage } from '@spool/store';
import { promptBudget, withHistory } from './session-history.js';

const message = (role: ChatMessage['role'], content: string): ChatMessage => ({ role, content });
const entries = (jobId: string, messages: ChatMessage[]): SessionMessage[] => messages.map((each) => ({ message: each, created_at: 1, job_id: jobId }));

describe('promptBudget', () => {
  it('is the context budget less the reply budget', () => {
    const request = { model: 'gpt-4o', messages: [] };
    expect(promptBudget({ ...request, max_tokens: 100, max_completion_tokens: 50 }, 1000)).toBe(950);
    expect(promptBudget({ ...request, max_tokens: 100 }, 1000)).toBe(900);
    expect(promptBudget(request, 1000)).toBe(750);
    expect(promptBudget(request)).toBe(128_000 - 4096);
  });
});

describe('withHistory', () => {
  const lead = [message('system', 'be brief'), message('developer', 'no lists')];
  const first = [message('user', 'q1'), message('assistant', 'a1'), message('user', 'q1b'), message('assistant', 'a1b')];
  const toolTurn = [message('user', 'q2'), { role: 'assistant', content: null, tool_calls: [] } as ChatMessage, message('tool', 'result'), message('assistant', 'a2')];
  const history = [...entries('job_1', [...lead, ...first]), ...entries('job_2', toolTurn)];
  const own = [message('user', 'q3')];
  const fits = (messages: ChatMessage[]) => countPromptTokens(messages);

  it('keeps everything that fits, oldest first, before the job’s own messages', async () => {
    const all = [...lead, ...first, ...toolTurn, ...own];
    expect(await withHistory(history, own, fits(all))).toEqual(all);
  });

  it('drops the oldest turns first, a question with its answer, and never splits a tool exchange', async () => {
    const withoutFirst = [...lead, first[2], first[3], ...toolTurn, ...own];
    expect(await withHistory(history, own, fits(withoutFirst))).toEqual(withoutFirst);
    expect(await withHistory(history, own, fits(withoutFirst) - 1)).toEqual([...lead, ...toolTurn, ...own]);
    expect(await withHistory(history, own, fits([...lead, ...toolTurn, ...own]) - 1)).toEqual([...lead, ...own]);
  });

  it('always keeps the leading system and developer messages and the job’s own, whatever the budget', async () => {
    expect(await withHistory(history, own, -10)).toEqual([...lead, ...own]);
    const ownWithSystem = [message('system', 'new rules'), message('user', 'q3')];
    expect(await withHistory(history, ownWithSystem, 0)).toEqual([...lead, ...ownWithSystem]);
  });

  it('counts a long session at a bounded cost, a turn at a time, without holding the event loop', async () => {
    const blob = () => randomBytes(2250).toString('base64');
    const older = Array.from({ length: 100 }, (_, index) => entries(`job_${index}`, [message('user', blob()), message('assistant', blob())]));
    const newest = entries('job_new', [message('user', 'a'.repeat(300_000)), message('assistant', 'ok')]);
    const long = [...older.flat(), ...newest];
    countPromptTokens(own); // compiles the tokenizer's Unicode regex, once per process
    let last = performance.now();
    let longestGap = 0;
    const ticker = setInterval(() => {
      longestGap = Math.max(longestGap, performance.now() - last);
      last = performance.now();
    }, 1);
    const started = performance.now();
    const kept = await withHistory(long, own, 1_047_576);
    longestGap = Math.max(longestGap, performance.now() - last);
    clearInterval(ticker);
    expect(kept).toEqual([...long.map((entry) => entry.message), ...own]);
    // Bounds for a loaded 2-core machine; the whole-text count took 40 s in one stretch.
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(longestGap).toBeLessThan(500);
  });
});
