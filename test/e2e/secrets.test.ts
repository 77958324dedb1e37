import OpenAI from 'openai';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDACT_PATHS } from '@spool/config';
import { startStack, type Stack } from '../support/stack.js';
import { getJson, postJson } from '../support/http.js';
import { logDestination } from '../support/log-lines.js';

const SECRETS = {
  upstream: 'sk-upstream-secret-5f1b2c3d4e',
  tenant: 'tenant-key-secret-9a8b7c6d5e',
  otherTenant: 'tenant-key-secret-other-1a2b3c',
  admin: 'admin-key-secret-0f9e8d7c6b',
  webhook: 'whsec_c2VjcmV0LXdlYmhvb2stc2lnbmluZy1rZXk=',
  wrong: 'wrong-key-secret-4d3c2b1a00',
};

describe('secrets never reach a log', () => {
  const lines: string[] = [];
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      logger: pino({ level: 'trace', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, logDestination(lines)),
      simulator: { apiKey: SECRETS.upstream },
      env: {
        LOG_LEVEL: 'trace',
        OPENAI_API_KEY: SECRETS.upstream,
        SPOOL_API_KEYS: `acme:${SECRETS.tenant},other:${SECRETS.otherTenant}`,
        SPOOL_ADMIN_KEY: SECRETS.admin,
        SPOOL_WEBHOOK_SECRET: SECRETS.webhook,
        SPOOL_MAX_ATTEMPTS: '2',
      },
    });
  });
  afterAll(async () => stack?.close());

  it('keeps every key out of every line at trace level, through real traffic and failures', async () => {
    const auth = { authorization: `Bearer ${SECRETS.tenant}` };
    const ok = await postJson(`${stack.url}/v1/jobs?wait=20`, { messages: [{ role: 'user', content: 'hello' }] }, auth);
    expect(ok.body.status).toBe('succeeded');
    const failed = await postJson(`${stack.url}/v1/jobs?wait=20`, { messages: [{ role: 'user', content: '[[sim status=500]] boom' }] }, auth);
    expect(failed.body.status).toBe('failed');
    expect((await getJson(`${stack.url}/v1/jobs`, { authorization: `Bearer ${SECRETS.wrong}` })).status).toBe(401);
    const admin = await fetch(`${stack.url}/admin/queues`, { headers: { authorization: `Bearer ${SECRETS.admin}` } });
    expect(admin.status).toBe(200);
    await admin.text();
    expect((await postJson(`${stack.url}/v1/jobs`, '{broken', auth)).status).toBe(400);
    const client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: SECRETS.tenant, maxRetries: 0 });
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'door' }] });
    await stack.close();

    expect(lines.length).toBeGreaterThan(3);
    const all = lines.join('');
    for (const [name, secret] of Object.entries(SECRETS)) {
      expect(all.includes(secret), `${name} key leaked into the logs`).toBe(false);
      expect(all.includes(secret.slice(8, 24)), `part of the ${name} key leaked into the logs`).toBe(false);
    }
  });
});
