import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/** Debian's Chromium; playwright-core drives it and never downloads a browser of its own. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

const INSTALL_TIMEOUT_MS = 10 * 60_000;

export type ChromiumCheck = { ok: true } | { ok: false; reason: string };

function run(command: string, args: string[]): { ok: boolean; output: string } {
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    timeout: INSTALL_TIMEOUT_MS,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error?.message ?? ''}` };
}

/** Installs Debian's `chromium` when it is missing and this is root with apt; else says why not. */
export function ensureChromium(): ChromiumCheck {
  if (existsSync(CHROMIUM_PATH)) return { ok: true };
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    return { ok: false, reason: `${CHROMIUM_PATH} is missing and installing it needs root: apt-get install chromium` };
  }
  if (!run('apt-get', ['--version']).ok) return { ok: false, reason: `${CHROMIUM_PATH} is missing and there is no apt-get to install it` };
  const update = run('apt-get', ['update']);
  const install = update.ok ? run('apt-get', ['install', '-y', 'chromium']) : update;
  if (install.ok && existsSync(CHROMIUM_PATH)) return { ok: true };
  return { ok: false, reason: `apt-get could not install chromium: ${install.output.trim().split('\n').slice(-3).join(' / ')}` };
}

/** A headless Chromium with a fresh profile; `close()` removes the profile too. */
export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'spool-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
