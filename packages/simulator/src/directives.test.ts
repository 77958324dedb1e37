import { describe, expect, it } from 'vitest';
import { DirectiveError, findDirective, hasFault, parseDirective } from './directives.js';

describe('parseDirective', () => {
  it('reads every key', () => {
    const text = '[[sim status=429 code=insufficient_quota retry_after_ms=1500 break=3 truncate=4 stall=5 stall_ms=60 times=2 tokens=9 ttft=10 tps=20]]';
    expect(parseDirective(`please ${text} thanks`)).toEqual({
      text,
      status: 429,
      code: 'insufficient_quota',
      retryAfterMs: 1500,
      breakAfter: 3,
      truncateAfter: 4,
      stallAfter: 5,
      stallMs: 60,
      times: 2,
      tokens: 9,
      ttftMs: 10,
      tokensPerSecond: 20,
    });
  });

  it('returns undefined without a directive and accepts an empty one', () => {
    expect(parseDirective('hello [[simple]] [sim tokens=3]')).toBeUndefined();
    expect(parseDirective('[[sim]]')).toEqual({ text: '[[sim]]' });
  });

  it('treats stall_ms alone as a stall from the start', () => {
    expect(parseDirective('[[sim stall_ms=50]]')).toMatchObject({ stallAfter: 0, stallMs: 50 });
  });

  it('rejects unknown keys, bad numbers and statuses that are not errors', () => {
    expect(() => parseDirective('[[sim brake=5]]')).toThrow(DirectiveError);
    expect(() => parseDirective('[[sim tokens=-1]]')).toThrow(/whole number/);
    expect(() => parseDirective('[[sim tokens]]')).toThrow(/key=value/);
    expect(() => parseDirective('[[sim status=200]]')).toThrow(/between 400 and 599/);
  });

  it('reads a batch fault, which is no fault of a live request', () => {
    expect(parseDirective('[[sim batch=expired times=1]]')).toEqual({ text: '[[sim batch=expired times=1]]', batch: 'expired', times: 1 });
    expect(parseDirective('[[sim batch=failed]]')).toMatchObject({ batch: 'failed' });
    expect(hasFault(parseDirective('[[sim batch=expired]]')!)).toBe(false);
    expect(() => parseDirective('[[sim batch=late]]')).toThrow(/batch must be failed or expired/);
  });
});

describe('findDirective', () => {
  it('takes the first directive scanning messages in order, text parts included', () => {
    const directive = findDirective([
      { role: 'system', content: 'be brief' },
      { role: 'user', content: [{ type: 'text', text: 'a [[sim tokens=3]]' }] },
      { role: 'user', content: '[[sim tokens=7]]' },
    ]);
    expect(directive).toEqual({ text: '[[sim tokens=3]]', tokens: 3 });
  });

  it('tells faults from speed and length overrides', () => {
    expect(hasFault(parseDirective('[[sim tokens=3 tps=5 ttft=1]]')!)).toBe(false);
    expect(hasFault(parseDirective('[[sim break=0]]')!)).toBe(true);
    expect(hasFault(parseDirective('[[sim status=500]]')!)).toBe(true);
  });
});
