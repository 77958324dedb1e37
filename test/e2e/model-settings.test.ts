/**
 * API.md §11: a model's settings in SPOOL_CONFIG. `context_tokens` is that model's window for
 * session trimming, in place of SPOOL_CONTEXT_TOKENS (which other models keep).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ChatMessage } from '@spool/contracts';
import { countPromptTokens } from '@spool/llm';
import { useStack } from '../support/stack.js';
import { postJson } from '../support/http.js';

const WINDOW = 400;
const acme = { authorization: 'Bearer acme-key-0000000000000000' };
type Message = { role: string; content: string };
const user = (content: string): Message => ({ role: 'user', content });
const promptTokens = (messages: Message[]) => countPromptTokens(messages as ChatMessage[]);

const dir = mkdtempSync(join(tmpdir(), 'spool-models-'));
const configPath = join(dir, 'spool.yaml');
writeFileSync(configPath, `tenants:\n  acme: {keys: ["acme-key-0000000000000000"]}\nmodels:\n  windowed: {context_tokens: ${WINDOW}}\n`);

describe('a model’s context_tokens', () => {
  const stack = useStack({ env: { SPOOL_CONFIG: configPath, SPOOL_CONTEXT_TOKENS: '100000' } });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  /** what upstream was sent, by the content of the request's last message */
  const prompts = new Map<string, Message[]>();

  it('is the window a session of that model is trimmed to; another model keeps SPOOL_CONTEXT_TOKENS', async () => {
    stack.simulator.events.on('request', (request: { messages: Message[] }) => prompts.set(request.messages.at(-1)!.content, request.messages));
    for (const model of ['windowed', 'gpt-4o-mini']) {
      const session = (await postJson(`${stack.url}/v1/sessions`, {}, acme)).body.id;
      const turns: Message[][] = [];
      for (const question of ['first', 'second', 'third'].map((word) => `${model} ${word} question`)) {
        const job = (await postJson(`${stack.url}/v1/jobs?wait=30`, { model, messages: [user(question)], session_id: session }, acme)).body;
        expect(job.status).toBe('succeeded');
        turns.push([user(question), { role: 'assistant', content: job.result.content }]);
      }
      // A reply budget that leaves the model's window room for the last turn and the new question only.
      const question = `${model} fourth question`;
      const kept = [...turns[2], user(question)];
      const maxTokens = WINDOW - promptTokens(kept);
      expect(promptTokens([...turns[1], ...kept])).toBeGreaterThan(WINDOW - maxTokens);
      expect((await postJson(`${stack.url}/v1/jobs?wait=30`, { model, messages: [user(question)], session_id: session, max_tokens: maxTokens }, acme)).body.status).toBe('succeeded');
      expect(prompts.get(question)).toEqual(model === 'windowed' ? kept : [...turns.flat(), user(question)]);
    }
  }, 60_000);
});
