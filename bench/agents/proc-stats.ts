/**
 * A process's CPU time and memory from /proc (Linux): what bench:agents reads of the master child
 * without asking it anything, so the reading costs the master nothing.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

let ticksPerSecond: number | null = null;
/** The kernel's clock tick (USER_HZ, almost always 100), the unit of /proc/PID/stat's times. */
function clockTicks(): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return ticksPerSecond;
}

/** User + system CPU time the process has used, in ms. */
export function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: count fields after its closing ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`/proc/${pid}/stat: cannot read utime and stime`);
  return ((utime + stime) * 1000) / clockTicks();
}

/** Resident set size in MiB (VmRSS). */
export function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m?.[1]) throw new Error(`/proc/${pid}/status: no VmRSS`);
  return Number(m[1]) / 1024;
}

/** The soft limit on open files of this process (and of the children it starts). */
export function openFilesLimit(): number {
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
  return !m?.[1] || m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1]);
}
