/**
 * What Linux's /proc says about processes, read for the per-command resource figures
 * (resource-monitor.ts): one process's `/proc/PID/stat`, and the agent's own reaped-children times.
 * Elsewhere (no /proc) `selfStatReader()` is null and no command is measured.
 */
import fs from 'node:fs';

/**
 * Clock ticks per second of the times in /proc (USER_HZ). The kernel reports them in this unit
 * whatever its own tick rate; it is 100 on every architecture Linux runs Node on.
 */
export const CLOCK_TICKS_PER_SECOND = 100;

/** The fields of `/proc/PID/stat` the monitor reads; times in clock ticks. */
export interface ProcStat {
  pid: number;
  ppid: number;
  /** Process group: a command's group is its main process's pid (the agent spawns it detached). */
  pgrp: number;
  /** CPU time of the process itself (all its threads), user and system. */
  utime: number;
  stime: number;
  /** CPU time of its children that ended and were waited for (with their own waited-for children). */
  cutime: number;
  cstime: number;
  /** Resident set now, in pages. */
  rssPages: number;
}

/**
 * Parses a `/proc/PID/stat` line. The command name (field 2) is in parentheses and may itself hold
 * spaces and parentheses, so the fields are counted from the last `)`. Null for anything else.
 */
export function parseProcStat(text: string): ProcStat | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const pid = Number.parseInt(text, 10);
  // From field 3 (state) on: index 0 is field 3.
  const f = text.slice(close + 2).split(' ');
  const at = (field: number) => Number(f[field - 3]);
  const stat = {
    pid,
    ppid: at(4),
    pgrp: at(5),
    utime: at(14),
    stime: at(15),
    cutime: at(16),
    cstime: at(17),
    rssPages: at(24),
  };
  return Object.values(stat).every(Number.isFinite) ? stat : null;
}

/** One process's stat; null once it is gone (or on a system without /proc). */
export function readProcStat(pid: number | 'self'): ProcStat | null {
  try {
    return parseProcStat(fs.readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return null;
  }
}

/**
 * A reader of the agent's own `/proc/self/stat` that keeps the file open and reads it again from
 * offset 0 (the kernel writes it anew on each read): a quarter of the cost of opening it each time
 * (5 µs instead of 20), which the agent pays twice per command. Null without /proc.
 */
export function selfStatReader(): (() => ProcStat | null) | null {
  let fd: number;
  try {
    fd = fs.openSync('/proc/self/stat', 'r');
  } catch {
    return null;
  }
  const buf = Buffer.alloc(1024);
  return () => {
    try {
      return parseProcStat(buf.toString('latin1', 0, fs.readSync(fd, buf, 0, buf.length, 0)));
    } catch {
      return null;
    }
  };
}

/**
 * Bytes per page of `rssPages`. Node does not expose the page size, so it is read off this process:
 * its RSS in bytes over its RSS in pages, rounded to a power of two (4 KiB on x86-64; 4, 16 or 64 KiB
 * on ARM). Read once.
 */
let pageSize: number | null = null;
export function pageBytes(): number {
  if (pageSize !== null) return pageSize;
  const pages = readProcStat('self')?.rssPages ?? 0;
  const ratio = pages > 0 ? process.memoryUsage.rss() / pages : 4096;
  pageSize = 2 ** Math.round(Math.log2(ratio));
  return pageSize;
}
