/**
 * `caliper start` runs the master without V8's concurrent marking (master/gc-tuning.ts), unless
 * CALIPER_CONCURRENT_MARKING=1 keeps V8's default. The flags are handed to a setter here, so this
 * test process keeps its own collector.
 */
import { describe, expect, it } from 'vitest';
import { masterGcFlags, tuneMasterGc } from '../../master/gc-tuning.ts';

describe('the master’s garbage collector', () => {
  it('marks on the main thread by default', () => {
    const set: string[] = [];
    expect(tuneMasterGc({}, (flag) => set.push(flag))).toEqual(['--no-concurrent-marking']);
    expect(set).toEqual(['--no-concurrent-marking']);
  });

  it('keeps V8’s default when CALIPER_CONCURRENT_MARKING=1', () => {
    const set: string[] = [];
    expect(tuneMasterGc({ CALIPER_CONCURRENT_MARKING: '1' }, (flag) => set.push(flag))).toEqual([]);
    expect(set).toEqual([]);
    expect(masterGcFlags({ CALIPER_CONCURRENT_MARKING: '0' })).toEqual(['--no-concurrent-marking']);
  });
});
