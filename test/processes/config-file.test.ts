import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runProcess } from '../support/processes.js';

describe('a bad SPOOL_CONFIG', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spool-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(['services/api/src/main.ts', 'services/worker/src/main.ts'])('stops %s at start with one line naming the path, no stack trace', async (entry) => {
    const path = join(dir, 'spool.yaml');
    writeFileSync(path, 'tenants:\n  alpha:\n    keys: ["${ALPHA_KEY}"]\n    weight: 0\n');
    const child = runProcess(entry, { SPOOL_CONFIG: path, ALPHA_KEY: 'secret-alpha-key' });
    const [code] = await once(child.process, 'exit');
    expect(code).toBe(1);
    const output = child.output.join('\n');
    expect(output).toContain(`spool: bad configuration: SPOOL_CONFIG: ${path}: tenants.alpha.weight: must be a number > 0`);
    expect(output).not.toMatch(/\n\s+at /);
    expect(output).not.toContain('secret-alpha-key');
  });
});
