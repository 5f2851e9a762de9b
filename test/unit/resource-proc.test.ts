import { describe, expect, it } from 'vitest';
import { parseProcStat, readProcStat } from '../../agent/resource-proc.ts';

describe('/proc/PID/stat', () => {
  it('reads the fields after the last ")", whatever the command name holds', () => {
    // A name with spaces and parentheses (field 2): the fields are counted from its end.
    const line = '4242 (a) b (c) S 17 4242 4242 0 -1 4194560 300 0 0 0 12 3 45 6 20 0 1 0 5000 9000000 2560 18446744073709551615';
    expect(parseProcStat(line)).toEqual({ pid: 4242, ppid: 17, pgrp: 4242, utime: 12, stime: 3, cutime: 45, cstime: 6, rssPages: 2560 });
  });

  it('is null for what is no stat line', () => {
    expect(parseProcStat('')).toBeNull();
    expect(parseProcStat('12 (x) S 1 2')).toBeNull();
  });

  it("reads this process's own", () => {
    const self = readProcStat(process.pid);
    expect(self).toMatchObject({ pid: process.pid, ppid: process.ppid });
    expect(self?.rssPages).toBeGreaterThan(0);
    expect(readProcStat(2 ** 22 + 1)).toBeNull();
  });
});
