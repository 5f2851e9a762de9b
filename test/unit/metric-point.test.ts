import { describe, expect, it } from 'vitest';
import { seriesKey, UniqueClock } from '../../metrics/metric-point.ts';

describe('seriesKey', () => {
  it('is the series followed by tags sorted by name', () => {
    expect(seriesKey('build_time', { step: 'compile', builder: 'b1', agent: 'a1' })).toBe(
      '["build_time",["agent","a1"],["builder","b1"],["step","compile"]]',
    );
  });

  it('is the series alone without tags', () => {
    expect(seriesKey('build_time', {})).toBe('["build_time"]');
  });

  it('never gives two tag sets the same key, whatever their values hold', () => {
    expect(seriesKey('s', { b: 'c,d=e' })).not.toBe(seriesKey('s', { b: 'c', d: 'e' }));
  });

  it('does not depend on the order tags were given in', () => {
    const a = seriesKey('s', { os: 'linux', arch: 'x64', cc: 'gcc', builder: 'b' });
    const b = seriesKey('s', { builder: 'b', cc: 'gcc', arch: 'x64', os: 'linux' });
    const c = seriesKey('s', { cc: 'gcc', os: 'linux', builder: 'b', arch: 'x64' });
    expect(a).toBe(b);
    expect(a).toBe(c);
  });

  it('differs when the series, a tag value or a tag name differs', () => {
    const base = seriesKey('s', { os: 'linux' });
    expect(seriesKey('t', { os: 'linux' })).not.toBe(base);
    expect(seriesKey('s', { os: 'mac' })).not.toBe(base);
    expect(seriesKey('s', { host: 'linux' })).not.toBe(base);
    expect(seriesKey('s', { os: 'linux', arch: 'x64' })).not.toBe(base);
  });
});

/** A clock the test moves by hand. */
function manualClock(startUs: number): { now: () => number; set: (us: number) => void } {
  let t = startUs;
  return { now: () => t, set: (us) => (t = us) };
}

describe('UniqueClock', () => {
  it('returns the current time when nothing was handed out for the key yet', () => {
    const clock = new UniqueClock(() => 5_000_000);
    expect(clock.next('k')).toBe(5_000_000);
  });

  it('hands out strictly increasing times per key from a frozen clock, 1 µs apart', () => {
    const clock = new UniqueClock(() => 5_000_000);
    const times = Array.from({ length: 100 }, () => clock.next('k'));
    expect(times).toEqual(Array.from({ length: 100 }, (_, i) => 5_000_000 + i));
  });

  it('keeps keys independent', () => {
    const clock = new UniqueClock(() => 5_000_000);
    expect(clock.next('a')).toBe(5_000_000);
    expect(clock.next('a')).toBe(5_000_001);
    expect(clock.next('a')).toBe(5_000_002);
    expect(clock.next('b')).toBe(5_000_000);
    expect(clock.next('a')).toBe(5_000_003);
    expect(clock.next('b')).toBe(5_000_001);
  });

  it('with stepUs 1000 hands out whole milliseconds that never collide', () => {
    const clock = new UniqueClock(() => 5_000_123, 1000);
    const times = Array.from({ length: 50 }, () => clock.next('k'));
    expect(times[0]).toBe(5_000_000);
    for (const t of times) expect(t % 1000).toBe(0);
    expect(new Set(times).size).toBe(times.length);
    times.slice(1).forEach((t, i) => expect(t - (times[i] as number)).toBe(1000));
  });

  it('with stepUs 1000 stays unique at ms precision while the clock creeps by microseconds', () => {
    const c = manualClock(7_000_000);
    const clock = new UniqueClock(c.now, 1000);
    const times: number[] = [];
    for (let i = 0; i < 200; i++) {
      c.set(7_000_000 + i * 7); // 7 µs between points: many land in the same millisecond
      times.push(clock.next('k'));
    }
    for (const t of times) expect(t % 1000).toBe(0);
    expect(new Set(times.map((t) => Math.floor(t / 1000))).size).toBe(times.length);
    times.slice(1).forEach((t, i) => expect(t).toBeGreaterThan(times[i] as number));
  });

  it('with stepUs 1e6 hands out whole seconds', () => {
    const clock = new UniqueClock(() => 9_876_543, 1_000_000);
    expect([clock.next('k'), clock.next('k'), clock.next('k')]).toEqual([9_000_000, 10_000_000, 11_000_000]);
  });

  it('follows a clock that moves ahead of the handed-out times', () => {
    const c = manualClock(1_000_000);
    const clock = new UniqueClock(c.now);
    expect(clock.next('k')).toBe(1_000_000);
    expect(clock.next('k')).toBe(1_000_001);
    c.set(2_000_000);
    expect(clock.next('k')).toBe(2_000_000);
    c.set(3_500_000);
    expect(clock.next('k')).toBe(3_500_000);
    expect(clock.next('k')).toBe(3_500_001);
  });

  it('keeps increasing when the clock is behind what was handed out, or goes backwards', () => {
    const c = manualClock(1_000_000);
    const clock = new UniqueClock(c.now);
    for (let i = 0; i < 5; i++) clock.next('k'); // up to 1_000_004
    c.set(1_000_002);
    expect(clock.next('k')).toBe(1_000_005);
    c.set(500_000);
    expect(clock.next('k')).toBe(1_000_006);
    c.set(1_000_100);
    expect(clock.next('k')).toBe(1_000_100);
  });

  it('floors a fractional microsecond clock to the step', () => {
    const clock = new UniqueClock(() => 1_234_567.9);
    expect(clock.next('k')).toBe(1_234_567);
    expect(clock.next('k')).toBe(1_234_568);
  });

  it('uses Date.now() in microseconds by default', () => {
    const before = Date.now() * 1000;
    const t = new UniqueClock().next('k');
    const after = Date.now() * 1000;
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(after);
  });

  it('stays unique per key across the pruning of many old keys', () => {
    const c = manualClock(1_000_000_000);
    const clock = new UniqueClock(c.now);
    for (let i = 0; i < 10_001; i++) clock.next(`old-${i}`);
    // Repeated key keeps climbing past the frozen now.
    const hot = [clock.next('hot'), clock.next('hot'), clock.next('hot')];
    expect(hot).toEqual([1_000_000_000, 1_000_000_001, 1_000_000_002]);
    c.set(1_061_000_000); // > 60 s later: the next call prunes keys last used before now - 1 s
    const afterPrune = Array.from({ length: 5 }, () => clock.next('old-0'));
    expect(afterPrune).toEqual([1_061_000_000, 1_061_000_001, 1_061_000_002, 1_061_000_003, 1_061_000_004]);
    expect(clock.next('hot')).toBe(1_061_000_000);
    expect(clock.next('hot')).toBe(1_061_000_001);
  });
});
