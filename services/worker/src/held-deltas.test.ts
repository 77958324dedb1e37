import { describe, expect, it } from 'vitest';
import { HeldDeltas } from './held-deltas.js';

describe('HeldDeltas', () => {
  it('holds what comes before attach, then hands it over in order, and later deltas straight through', () => {
    const deltas = new HeldDeltas();
    deltas.push('Hel');
    deltas.push('lo');
    const seen: string[] = [];
    deltas.attach((text) => seen.push(text));
    expect(seen).toEqual(['Hel', 'lo']);
    deltas.push(', world');
    expect(seen).toEqual(['Hel', 'lo', ', world']);
  });
});
