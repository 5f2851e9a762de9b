import { describe, expect, it } from 'vitest';
import { LockSet } from '../../master/scheduler/lock-set.ts';

describe('LockSet', () => {
  it('counts an agent lock for agents whose names are also Object properties', () => {
    const locks = new LockSet([{ type: 'agent', name: 'heavy', maxCount: 1, maxCountForAgent: {} }]);
    const access = [{ lock: 'heavy', access: 'counting' as const }];
    for (const agent of ['constructor', 'toString', 'a1']) {
      expect(locks.available(access, agent), agent).toBe(true);
      const held = locks.take(access, agent);
      expect(locks.available(access, agent), agent).toBe(false);
      held.release();
      held.release(); // twice is once
      expect(locks.available(access, agent), agent).toBe(true);
    }
  });

  it('names only the instances that block, as reservations', () => {
    const locks = new LockSet([
      { type: 'master', name: 'deploy', maxCount: 1 },
      { type: 'master', name: 'pool', maxCount: 2 },
      { type: 'agent', name: 'heavy', maxCount: 1, maxCountForAgent: {} },
    ]);
    locks.take([{ lock: 'deploy', access: 'counting' }], 'a1');
    locks.take([{ lock: 'heavy', access: 'counting' }], 'a1');
    const wants = [
      { lock: 'deploy', access: 'exclusive' as const },
      { lock: 'pool', access: 'counting' as const },
      { lock: 'heavy', access: 'counting' as const },
    ];
    expect(locks.blocking(wants, 'a1')).toEqual(['m\u0000deploy', 'a\u0000heavy\u0000a1']);
    expect(locks.blocking(wants, null)).toEqual(['m\u0000deploy']);
    expect(locks.available([{ lock: 'pool', access: 'counting' }], 'a2', new Set(locks.blocking(wants, 'a1')))).toBe(true);
  });
});
