/**
 * The master's locks at run time (see config/locks.ts). Holders are counted per lock instance: one
 * for a master lock, one per agent for an agent lock. Locks live in this master's memory: masters
 * sharing a database each have their own, as in Buildbot.
 */
import type { ParsedLock, ParsedLockAccess } from '../config/locks.ts';

interface Instance {
  counting: number;
  exclusive: boolean;
}

export interface HeldLocks {
  release(): void;
}

export class LockSet {
  private readonly locks: Map<string, ParsedLock>;
  private readonly instances = new Map<string, Instance>();

  constructor(locks: ParsedLock[]) {
    this.locks = new Map(locks.map((l) => [l.name, l]));
  }

  /** The lock instances a build of these accesses on `agent` would take, with their capacity. */
  private resolve(accesses: ParsedLockAccess[], agent: string): { key: string; access: ParsedLockAccess; max: number }[] {
    return accesses.map((access) => {
      const lock = this.locks.get(access.lock);
      if (!lock) throw new Error(`unknown lock "${access.lock}"`); // compile checks every reference
      if (lock.type === 'master') return { key: `m\u0000${lock.name}`, access, max: lock.maxCount };
      const own = Object.hasOwn(lock.maxCountForAgent, agent) ? lock.maxCountForAgent[agent] : undefined; // not inherited names
      return { key: `a\u0000${lock.name}\u0000${agent}`, access, max: own ?? lock.maxCount };
    });
  }

  private instance(key: string): Instance {
    let i = this.instances.get(key);
    if (!i) this.instances.set(key, (i = { counting: 0, exclusive: false }));
    return i;
  }

  private free(key: string, access: ParsedLockAccess, max: number): boolean {
    const i = this.instance(key);
    if (i.exclusive) return false;
    return access.access === 'exclusive' ? i.counting === 0 : i.counting < max;
  }

  /** Whether every lock is free for these accesses on `agent`, none of them in `reserved`. */
  available(accesses: ParsedLockAccess[], agent: string, reserved: ReadonlySet<string> = new Set()): boolean {
    return this.resolve(accesses, agent).every(({ key, access, max }) => !reserved.has(key) && this.free(key, access, max));
  }

  /**
   * The instances that keep these accesses from being taken on `agent` (null: master locks only), to
   * reserve them for an older waiting request. Free instances are not returned: reserving them would
   * hold up builds that do not compete with it.
   */
  blocking(accesses: ParsedLockAccess[], agent: string | null): string[] {
    const masterOnly = accesses.filter((a) => agent !== null || this.locks.get(a.lock)?.type === 'master');
    return this.resolve(masterOnly, agent ?? '')
      .filter(({ key, access, max }) => !this.free(key, access, max))
      .map((r) => r.key);
  }

  /** Takes the locks (call after `available`); release them once, when the build ends. */
  take(accesses: ParsedLockAccess[], agent: string): HeldLocks {
    const taken = this.resolve(accesses, agent);
    for (const { key, access } of taken) {
      const i = this.instance(key);
      if (access.access === 'exclusive') i.exclusive = true;
      else i.counting++;
    }
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        for (const { key, access } of taken) {
          const i = this.instance(key);
          if (access.access === 'exclusive') i.exclusive = false;
          else i.counting = Math.max(0, i.counting - 1);
        }
      },
    };
  }
}
