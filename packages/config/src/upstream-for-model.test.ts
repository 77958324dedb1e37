import { describe, expect, it } from 'vitest';
import type { UpstreamSettings } from './config-file.js';
import { servesModel, upstreamForModel } from './upstream-for-model.js';

const upstream = (name: string, models: string[]): UpstreamSettings => ({ name, models, headers: {}, modelMap: {}, weight: 1 });

describe('upstreamForModel', () => {
  it('takes the first upstream listed that names the model or serves any', () => {
    const upstreams = [upstream('a', ['gpt-4o']), upstream('b', ['*']), upstream('c', ['gpt-4o-mini'])];
    expect(upstreamForModel(upstreams, 'gpt-4o')?.name).toBe('a');
    expect(upstreamForModel(upstreams, 'gpt-4o-mini')?.name).toBe('b');
    expect(upstreamForModel([upstream('a', ['gpt-4o'])], 'o4-mini')).toBeUndefined();
    expect(servesModel(upstream('x', ['*']), 'anything')).toBe(true);
  });
});
