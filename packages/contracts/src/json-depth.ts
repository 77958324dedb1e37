import { ApiError, formatParam } from './errors.js';

/**
 * How deeply a request body's objects and arrays may nest. JSON schemas in `response_format` and
 * tool parameters nest, but nowhere near this; far deeper values overflow the stack of anything
 * that walks them recursively, `JSON.stringify` included.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * The path of the first object or array in a parsed JSON value nested more than `maxDepth`
 * levels deep (the value itself is level 1), or null. A loop, not recursion: the stack holds one
 * entry per open level (so at most `maxDepth`), and each value is visited once.
 */
function tooDeepPath(value: unknown, maxDepth: number): (string | number)[] | null {
  if (value === null || typeof value !== 'object') return null;
  const containers: Record<string, unknown>[] = [value as Record<string, unknown>];
  const keyLists: (string[] | null)[] = [Array.isArray(value) ? null : Object.keys(value)];
  const positions: number[] = [0];
  while (containers.length) {
    const top = containers.length - 1;
    const keys = keyLists[top];
    const position = positions[top]++;
    if (position >= (keys ?? (containers[top] as unknown as unknown[])).length) {
      containers.pop();
      keyLists.pop();
      positions.pop();
      continue;
    }
    const child = containers[top][keys ? keys[position] : position];
    if (child === null || typeof child !== 'object') continue;
    if (containers.length === maxDepth) {
      return keyLists.map((levelKeys, level) => (levelKeys ? levelKeys[positions[level] - 1] : positions[level] - 1));
    }
    containers.push(child as Record<string, unknown>);
    keyLists.push(Array.isArray(child) ? null : Object.keys(child));
    positions.push(0);
  }
  return null;
}

/**
 * A 400 naming the field when a request body nests deeper than `MAX_JSON_DEPTH`; run it on every
 * parsed body before anything else touches it. `paramPrefix` names where the body sits, as for
 * `parseOrThrow` (`requests[3].body` in a batch).
 */
export function checkJsonDepth(value: unknown, paramPrefix = ''): void {
  const path = tooDeepPath(value, MAX_JSON_DEPTH);
  if (!path) return;
  // Name the field the client wrote (`foo`), not the innermost array (`foo[0][0]...`).
  while (typeof path.at(-1) === 'number') path.pop();
  const inner = formatParam(path);
  const param = paramPrefix ? (inner ? `${paramPrefix}.${inner}` : paramPrefix) : inner;
  const what = param ? `'${param}'` : 'The request body';
  throw ApiError.invalid(`${what} nests objects and arrays more than ${MAX_JSON_DEPTH} levels deep`, param, 'json_too_deep');
}
