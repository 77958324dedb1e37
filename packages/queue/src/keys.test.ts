import calculateSlot from 'cluster-key-slot';
import { describe, expect, it } from 'vitest';
import { createKeys, type Keys } from './keys.js';

/** Every key a Keys builds, by method name, for a sample tenant, job and upstream. */
function everyKey(keys: Keys): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, build] of Object.entries(keys)) {
    if (typeof build !== 'function') continue;
    out[name] = (build as (...args: string[]) => string)('sample-a', 'sample-b');
  }
  return out;
}

describe('key layout (one code path for a single Redis and a cluster)', () => {
  const keys = createKeys('spool');
  const JOB_OWN = ['job', 'events', 'eventsChannel'];

  it("puts a job's own keys (record, events, channel) in the job's slot, tagged by its id", () => {
    expect(keys.job('job_abc')).toBe('spool:job:{job_abc}');
    expect(keys.events('job_abc')).toBe('spool:events:{job_abc}');
    expect(keys.eventsChannel('job_abc')).toBe('spool:events-channel:{job_abc}');
    const slots = new Set(JOB_OWN.map((name) => calculateSlot((keys[name as 'job'])('job_abc'))));
    expect([...slots]).toEqual([calculateSlot('job_abc')]);
  });

  it("spreads jobs' own keys over the slots: different ids, different slots", () => {
    const ids = Array.from({ length: 200 }, (_, index) => `job_${index.toString(36).padStart(24, 'x')}`);
    const slots = new Set(ids.map((id) => calculateSlot(keys.job(id))));
    expect(slots.size).toBeGreaterThan(190);
  });

  it('puts every other key, and the BullMQ prefix, in the control slot `{prefix}`', () => {
    expect(keys.control).toBe('{spool}');
    const control = calculateSlot('{spool}');
    for (const [name, key] of Object.entries(everyKey(keys))) {
      if (JOB_OWN.includes(name)) continue;
      expect([name, key.startsWith('{spool}:'), calculateSlot(key)]).toEqual([name, true, control]);
    }
    // BullMQ's keys under that prefix: `{spool}:chat:<job id>`, `{spool}:chat:wait`, ...
    expect(calculateSlot(`${keys.control}:chat:job_abc`)).toBe(control);
  });

  it('keeps a prefix that is a hash tag already (`{spool}`) as the tag, not `{{spool}}`', () => {
    const tagged = createKeys('{spool}');
    expect(tagged.control).toBe('{spool}');
    expect(tagged.outbox()).toBe('{spool}:outbox');
    expect(tagged.job('job_abc')).toBe('{spool}:job:{job_abc}');
  });
});
