/**
 * Kills the agent's commands when the agent itself dies without doing so (SIGKILL, OOM killer, a
 * crash). Each command runs in a process group of its own, so nothing else would stop it, and the
 * master retries the build elsewhere while the orphan goes on writing into the agent's workdir.
 *
 * A small helper process (orphan-guard.sh run by /bin/sh, in a process group of its own, deaf to
 * terminal signals) reads the groups to watch from a pipe: `+PGID` when a command starts, `-PGID`
 * once it is gone. When the pipe closes, which the kernel does however the agent ends, the helper
 * SIGKILLs every group still listed. A shell, not a second node: about 1 MB where node held 40, and
 * it starts in a millisecond.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

/** Beside this module in the sources and in dist/ (npm run build copies it). */
export const ORPHAN_GUARD_SCRIPT = fileURLToPath(new URL('./orphan-guard.sh', import.meta.url));

/** How the guard is started (the tests start it so too). */
export function spawnOrphanGuard(): ChildProcess {
  return spawn('/bin/sh', [ORPHAN_GUARD_SCRIPT], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
}

export class OrphanGuard {
  private helper: ChildProcess | null = null;

  constructor(private readonly log: (line: string) => void) {}

  /** Starts the helper; without it (spawn failed) commands still run, unguarded. */
  start(): void {
    if (this.helper) return;
    const helper = spawnOrphanGuard();
    helper.on('error', (e) => this.lost(helper, e.message));
    helper.on('exit', (code, signal) => this.lost(helper, `helper exited (${signal ?? `code ${code}`})`));
    helper.stdin?.on('error', () => undefined);
    // Neither the helper nor its pipe keeps the agent's process alive.
    helper.unref();
    if (helper.stdin instanceof Socket) helper.stdin.unref();
    this.helper = helper;
  }

  watch(pgid: number): void {
    this.helper?.stdin?.write(`+${pgid}\n`);
  }

  forget(pgid: number): void {
    this.helper?.stdin?.write(`-${pgid}\n`);
  }

  /** A normal stop: the agent has ended its commands; the helper exits (killing any left). */
  stop(): void {
    this.helper?.stdin?.end();
    this.helper = null;
  }

  /** The helper failed to start or ended while still wanted. */
  private lost(helper: ChildProcess, why: string): void {
    if (this.helper !== helper) return;
    this.helper = null;
    this.log(`orphan guard unavailable (commands outlive a killed agent): ${why}`);
  }
}
