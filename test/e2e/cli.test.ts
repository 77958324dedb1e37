import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulateReply } from '@spool/simulator';
import { startStack, type Stack } from '../support/stack.js';
import { postJson } from '../support/http.js';
import { ROOT } from '../support/processes.js';

const run = promisify(execFile);

async function spool(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(ROOT, 'packages/cli/bin/spool.js'), ...args], { env: { ...process.env, ...env }, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const tempDirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'spool-cli-'));
  tempDirs.push(dir);
  return dir;
}

describe('the spool command', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ simulator: { tokensPerSecond: 500 }, env: { WORKER_CONCURRENCY: '100' } });
  });
  afterAll(async () => {
    await stack?.close();
    await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it('submit --stream prints the reply as it streams', async () => {
    const result = await spool(['--url', stack.url, 'submit', '--stream', 'hello from the cli']);
    expect(result.code).toBe(0);
    const expected = simulateReply({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello from the cli' }] }).content;
    expect(result.stdout.trim()).toBe(expected);
    expect(result.stderr).toMatch(/job_/);
  });

  it('watch replays a finished job from SPOOL_URL', async () => {
    const job = (await postJson(`${stack.url}/v1/jobs?wait=30`, { messages: [{ role: 'user', content: 'watch me' }] })).body;
    const result = await spool(['watch', job.id], { SPOOL_URL: stack.url });
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(job.result.content);
  });

  it('batch submits a JSONL file, shows progress and writes the results', async () => {
    const dir = await tempDir();
    const input = join(dir, 'in.jsonl');
    const out = join(dir, 'out.jsonl');
    const lines = Array.from({ length: 20 }, (_, i) =>
      JSON.stringify({ custom_id: `r${i}`, method: 'POST', url: '/v1/chat/completions', body: { messages: [{ role: 'user', content: `[[sim tokens=3]] ${i}` }] } }),
    );
    await writeFile(input, lines.join('\n'));
    const result = await spool(['--url', stack.url, 'batch', input, '-o', out]);
    expect(result.stderr).toMatch(/completed/);
    expect(result.code).toBe(0);
    const results = (await readFile(out, 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
    expect(results.map((line) => line.custom_id).sort()).toEqual(lines.map((_, i) => `r${i}`).sort());
    expect(results.every((line) => line.status === 'succeeded')).toBe(true);
  });

  it('says clearly when the server is unreachable or the file is bad', async () => {
    const unreachable = await spool(['--url', 'http://127.0.0.1:9', 'submit', 'x']);
    expect(unreachable.code).toBe(2);
    expect(unreachable.stderr).toMatch(/Cannot reach Spool at http:\/\/127\.0\.0\.1:9/);
    const missing = await spool(['--url', stack.url, 'batch', '/nonexistent/in.jsonl', '-o', '/tmp/out.jsonl']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/Cannot read \/nonexistent\/in.jsonl/);
    const dir = await tempDir();
    await writeFile(join(dir, 'bad.jsonl'), '{"custom_id": "a"}\nnot json\n');
    const bad = await spool(['--url', stack.url, 'batch', join(dir, 'bad.jsonl'), '-o', join(dir, 'out.jsonl')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/line 2 is not valid JSON/);
  });
});
