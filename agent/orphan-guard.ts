/**
 * Kills the agent's commands when the agent itself dies without doing so (SIGKILL, OOM killer, a
 * crash). Each command runs in a process group of its own, so nothing else would stop it, and the
 * master retries the build elsewhere while the orphan goes on writing into the agent's workdir.
 *
 * A small helper process (node, in a process group of its own, deaf to terminal signals) reads the
 * groups to watch from a pipe: `+PGID` when a command starts, `-PGID` once it is gone. When the pipe
 * closes, which the kernel does however the agent ends, the helper SIGKILLs every group still listed.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const HELPER = `
const groups = new Set();
let buffered = '';
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => {});
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  buffered += d;
  let i;
  while ((i = buffered.indexOf('\\n')) >= 0) {
    const line = buffered.slice(0, i);
    buffered = buffered.slice(i + 1);
    const pgid = Number(line.slice(1));
    if (!(pgid > 1)) continue;
    if (line[0] === '+') groups.add(pgid); else groups.delete(pgid);
  }
});
process.stdin.on('end', () => {
  for (const g of groups) { try { process.kill(-g, 'SIGKILL'); } catch {} }
  process.exit(0);
});
`;

export class OrphanGuard {
  private helper: ChildProcess | null = null;

  constructor(private readonly log: (line: string) => void) {}

  /** Starts the helper; without it (spawn failed) commands still run, unguarded. */
  start(): void {
    if (this.helper) return;
    const helper = spawn(process.execPath, ['-e', HELPER], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    helper.on('error', (e) => {
      this.log(`orphan guard unavailable (commands outlive a killed agent): ${e.message}`);
      this.helper = null;
    });
    helper.stdin?.on('error', () => undefined);
    // Neither the helper nor its pipe keeps the agent's process alive.
    helper.unref();
    (helper.stdin as unknown as { unref?: () => void } | null)?.unref?.();
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
}
