import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import OpenAI from 'openai';
import { afterEach, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');
let child: ChildProcess | undefined;

afterEach(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

// tsx, as `npm run simulator` runs it; npx would not pass SIGTERM on and would exit 143 itself.
it('runs as a process: prints its address, serves, and exits 0 on SIGTERM', { timeout: 15_000 }, async () => {
  child = spawn(resolve(root, 'node_modules/.bin/tsx'), ['packages/simulator/src/main.ts'], {
    cwd: root,
    env: { ...process.env, SIMULATOR_PORT: '0', SIMULATOR_HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  let baseURL: string | undefined;
  for await (const line of createInterface({ input: child.stdout! })) {
    baseURL = /^simulator listening on (http:\/\/127\.0\.0\.1:\d+\/v1)$/.exec(line)?.[1];
    if (baseURL) break;
  }
  expect(baseURL).toBeDefined();

  const client = new OpenAI({ baseURL, apiKey: 'sk-test', maxRetries: 0 });
  const reply = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi [[sim tokens=3 ttft=0 tps=0]]' }] });
  expect(reply.usage?.completion_tokens).toBe(3);
  const stats = await fetch(new URL('/sim/stats', baseURL)).then((response) => response.json());
  expect(stats).toMatchObject({ requests: 1, completed: 1 });

  child.kill('SIGTERM');
  expect(await exited).toEqual([0, null]);
});
