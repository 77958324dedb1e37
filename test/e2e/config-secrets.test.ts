/**
 * API.md §11: with `upstreams` in the file, OPENAI_BASE_URL is not used; and no key from the
 * configuration file is ever logged: the tenants' keys (given as
 * `${NAME}`), an upstream's `api_key` and a header it sends (Azure's `api-key`), at trace level,
 * through real traffic, failures included.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDACT_PATHS } from '@spool/config';
import { createSimulator, type Simulator } from '@spool/simulator';
import { startStack, type Stack } from '../support/stack.js';
import { getJson, postJson } from '../support/http.js';
import { logDestination } from '../support/log-lines.js';

const SECRETS = {
  tenant: 'file-tenant-key-secret-7c6d5e4f',
  upstream: 'sk-file-upstream-secret-3b2a1c0d',
  header: 'azure-header-secret-9e8f7a6b5c',
};

describe('keys from SPOOL_CONFIG never reach a log', () => {
  const lines: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'spool-config-secrets-'));
  let upstream: Simulator;
  let stack: Stack;
  beforeAll(async () => {
    upstream = createSimulator({ apiKey: SECRETS.upstream });
    const url = await upstream.listen(0);
    const path = join(dir, 'spool.yaml');
    writeFileSync(
      path,
      [
        'tenants:',
        '  acme: {keys: ["${ACME_KEY}"]}',
        'upstreams:',
        `  - {name: own, base_url: "${url}", api_key: "${SECRETS.upstream}", headers: {api-key: "${SECRETS.header}"}}`,
      ].join('\n'),
    );
    stack = await startStack({
      logger: pino({ level: 'trace', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, logDestination(lines)),
      env: { LOG_LEVEL: 'trace', SPOOL_CONFIG: path, ACME_KEY: SECRETS.tenant, SPOOL_MAX_ATTEMPTS: '2' },
    });
  });
  afterAll(async () => {
    await stack?.close();
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the tenants’ keys, the upstream’s api_key and its headers out of every line at trace level', async () => {
    // The file's upstream is the one called: OPENAI_BASE_URL (the stack's own simulator) is not used beside it.
    let calls = 0;
    let unused = 0;
    upstream.events.on('request', () => calls++);
    stack.simulator.events.on('request', () => unused++);
    const auth = { authorization: `Bearer ${SECRETS.tenant}` };
    expect((await postJson(`${stack.url}/v1/jobs?wait=20`, { messages: [{ role: 'user', content: 'hello' }] }, auth)).body.status).toBe('succeeded');
    expect((await postJson(`${stack.url}/v1/jobs?wait=20`, { messages: [{ role: 'user', content: '[[sim status=500]] boom' }] }, auth)).body.status).toBe('failed');
    expect((await postJson(`${stack.url}/v1/jobs?wait=20`, { messages: [{ role: 'user', content: '[[sim status=401]] refused' }] }, auth)).body.status).toBe('failed');
    expect((await getJson(`${stack.url}/v1/jobs`, { authorization: 'Bearer not-a-key' })).status).toBe(401);
    await stack.close();
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(unused).toBe(0);

    expect(lines.length).toBeGreaterThan(3);
    const all = lines.join('');
    for (const [name, secret] of Object.entries(SECRETS)) {
      expect(all.includes(secret), `${name} key leaked into the logs`).toBe(false);
      expect(all.includes(secret.slice(8, 24)), `part of the ${name} key leaked into the logs`).toBe(false);
    }
  });
});
