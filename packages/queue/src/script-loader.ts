import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { RedisClient } from './redis.js';

/** A Lua script run as a command of its own on a connection (ioredis `defineCommand`). */
export interface ScriptCommand {
  /** undefined: as many as the caller says, in the first argument */
  numberOfKeys?: number;
  /** the `.lua` file, e.g. `new URL('./commands/start.lua', import.meta.url)` */
  script: URL;
}

/**
 * `--- @include "path"` (BullMQ's syntax) pastes a fragment in its place, once per script. A path
 * starting with `.`, or a bare name (BullMQ's fragments name their siblings so, without `.lua`), is
 * relative to the file that includes it; any other names a package's file
 * (`@spool/queue/commands/now-ms.lua`, `bullmq/dist/esm/commands/includes/storeJob.lua`).
 */
const INCLUDE = /^--- @include "([^"]+)"[ \t]*$/gm;

const loaded = new Map<string, string>();

function resolveInclude(path: string, from: URL): URL {
  const file = /\.\w+$/.test(path) ? path : `${path}.lua`;
  if (file.startsWith('.') || !file.includes('/')) return new URL(file, from);
  return pathToFileURL(createRequire(fileURLToPath(from)).resolve(file));
}

/** `source` with its includes (and theirs) pasted in; `from` is where relative paths start. */
export function resolveIncludes(source: string, from: URL, included = new Set<string>()): string {
  return source.replace(INCLUDE, (_line, path: string) => {
    const url = resolveInclude(path, from);
    if (included.has(url.href)) return '';
    included.add(url.href);
    return resolveIncludes(readFileSync(url, 'utf8'), url, included);
  });
}

/** The script in `url` with its includes, read once per process. */
export function loadScript(url: URL): string {
  let script = loaded.get(url.href);
  if (script === undefined) {
    script = resolveIncludes(readFileSync(url, 'utf8'), url);
    loaded.set(url.href, script);
  }
  return script;
}

/** Defines each command on `redis` that is not defined there yet (a connection is often shared). */
export function defineCommands(redis: RedisClient, commands: Record<string, ScriptCommand>): void {
  for (const [name, command] of Object.entries(commands)) {
    if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: command.numberOfKeys, lua: loadScript(command.script) });
  }
}
