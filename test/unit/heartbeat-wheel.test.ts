/**
 * The heartbeat wheel (master/agents/heartbeat-wheel.ts): one timer for every session, each session
 * beaten once per period from one period after it joined, whatever else joins or leaves meanwhile.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HeartbeatWheel } from '../../master/agents/heartbeat-wheel.ts';

/** A client that records the (fake) times it was beaten at. */
function recorder(): { beats: number[]; beat: () => void } {
  const beats: number[] = [];
  return { beats, beat: () => beats.push(Date.now()) };
}

describe('HeartbeatWheel', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('beats each client once per period, the first beat one period after it joined', () => {
    const wheel = new HeartbeatWheel(10_000);
    const a = recorder();
    wheel.add(a);
    vi.advanceTimersByTime(2_345);
    const b = recorder();
    wheel.add(b);
    vi.advanceTimersByTime(40_000);
    expect(a.beats).toEqual([10_000, 20_000, 30_000, 40_000]);
    // Joined between two turns (at 2 345 ms, after the turn of 2 300): beaten one period after that turn.
    expect(b.beats).toEqual([12_300, 22_300, 32_300, 42_300]);
  });

  it('runs one timer for any number of clients, and none once the last has left', () => {
    const wheel = new HeartbeatWheel(10_000);
    const leaves: (() => void)[] = [];
    for (let i = 0; i < 1000; i++) {
      leaves.push(wheel.add({ beat: () => {} }));
      vi.advanceTimersByTime(7);
    }
    expect(vi.getTimerCount()).toBe(1);
    expect(wheel.size).toBe(1000);
    for (const leave of leaves) leave();
    leave(leaves);
    expect(wheel.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('spreads clients over the turns of a period: each turn beats those that joined in one turn', () => {
    const wheel = new HeartbeatWheel(10_000);
    const beatsPerTurn = new Map<number, number>();
    for (let i = 0; i < 1000; i++) {
      // Counted over one period once all have joined: each client beats exactly once in it.
      wheel.add({
        beat: () => Date.now() >= 10_000 && Date.now() < 20_000 && beatsPerTurn.set(Date.now(), (beatsPerTurn.get(Date.now()) ?? 0) + 1),
      });
      vi.advanceTimersByTime(10); // 1 000 joins over one period: 10 a turn
    }
    vi.advanceTimersByTime(10_000);
    expect([...beatsPerTurn.values()].reduce((x, y) => x + y, 0)).toBe(1000);
    expect(Math.max(...beatsPerTurn.values())).toBe(10);
  });

  it('goes on with its turn when a beat takes its own client or another one off the wheel', () => {
    const wheel = new HeartbeatWheel(1_000);
    const seen: string[] = [];
    let leaveB = () => {};
    const leaveA = wheel.add({
      beat: () => {
        seen.push('a');
        leaveA();
        leaveB();
      },
    });
    leaveB = wheel.add({ beat: () => seen.push('b') });
    wheel.add({ beat: () => seen.push('c') });
    vi.advanceTimersByTime(3_000);
    // b was in the turn's copy when a took it off: beaten that once, never again; c every period.
    expect(seen).toEqual(['a', 'b', 'c', 'c', 'c']);
    expect(wheel.size).toBe(1);
  });

  it('keeps the period when it is not a multiple of the turn, and under two turns has one slot', () => {
    for (const period of [150, 100, 250, 1_234]) {
      const wheel = new HeartbeatWheel(period);
      const r = recorder();
      wheel.add(r);
      vi.advanceTimersByTime(period * 3);
      expect(r.beats.map((t) => Math.round(t))).toEqual([1, 2, 3].map((k) => Math.round(period * k)));
      vi.clearAllTimers();
    }
  });

  it('refuses a period that is not positive', () => {
    expect(() => new HeartbeatWheel(0)).toThrow(/periodMs must be positive, got 0/);
    expect(() => new HeartbeatWheel(Number.NaN)).toThrow(RangeError);
  });
});

/** Leaving twice is harmless: the count does not go below the clients on the wheel. */
function leave(leaves: (() => void)[]): void {
  for (const l of leaves) l();
}
