import { expect, it } from 'vitest';
import { ApiError } from './errors.js';
import { MAX_JSON_DEPTH, checkJsonDepth } from './json-depth.js';

const refusal = (value: unknown, paramPrefix?: string) => {
  try {
    checkJsonDepth(value, paramPrefix);
    return null;
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return error as ApiError;
  }
};

/** `levels` objects nested under `key`, the innermost `{}`. */
const nestedObjects = (key: string, levels: number) => JSON.parse(`${`{"${key}":`.repeat(levels - 1)}{}${'}'.repeat(levels - 1)}`);

it(`passes ${MAX_JSON_DEPTH} levels and refuses one more with a 400 naming the field`, () => {
  const schema = { tools: [{ function: { parameters: nestedObjects('p', MAX_JSON_DEPTH - 4) } }] };
  expect(refusal(schema)).toBeNull();
  const error = refusal({ tools: [{ function: { parameters: nestedObjects('p', MAX_JSON_DEPTH - 3) } }] })!;
  expect(error.status).toBe(400);
  expect(error.code).toBe('json_too_deep');
  expect(error.param).toBe(`tools[0].function.parameters${'.p'.repeat(MAX_JSON_DEPTH - 4)}`);
});

it('names the field holding nested arrays, not its innermost element, and the body itself when it is the array', () => {
  const arrays = (levels: number) => JSON.parse(`${'['.repeat(levels)}${']'.repeat(levels)}`);
  expect(refusal({ metadata: { x: arrays(5000) } })!.param).toBe('metadata.x');
  expect(refusal(arrays(5000))!.param).toBeNull();
  expect(refusal(arrays(5000))!.message).toMatch(/^The request body nests/);
});

it('names the field under the prefix of where the body sits', () => {
  expect(refusal(nestedObjects('p', MAX_JSON_DEPTH), 'requests[0].body')).toBeNull();
  expect(refusal(nestedObjects('p', MAX_JSON_DEPTH + 1), 'requests[0].body')!.param).toBe(`requests[0].body${'.p'.repeat(MAX_JSON_DEPTH)}`);
});

it('walks 100,000 levels (far past any call stack) and 100,000 wide', () => {
  const deep = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`);
  expect(refusal({ x: deep })!.param).toBe('x');
  expect(refusal({ wide: Array.from({ length: 100_000 }, (_, index) => ({ index })) })).toBeNull();
});
