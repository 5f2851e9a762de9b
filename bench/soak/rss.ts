/**
 * The master's RSS through the soak: a sample a second from /proc/PID/status, tagged with the master
 * process's lifetime (it restarts) and how many requests were built by then. Per lifetime:
 *   - warm: the median of the samples taken while the builds went from its start + 10 % of N to
 *     + 15 % of N (after warm-up: JIT, caches, pools);
 *   - end: the median of the samples of the lifetime's last 5 % of N builds;
 *   - growth = end / warm − 1.
 * Medians, not single samples: V8 collects garbage when it pleases, and one sample can land before
 * or after a collection.
 */

export interface RssSample {
  lifetime: number;
  built: number;
  kib: number;
}

export interface Lifetime {
  index: number;
  /** How it began: "soak start", "after SIGTERM", "after SIGKILL". */
  began: string;
  /** How it ended: "SIGTERM", "SIGKILL", "end of soak". */
  ended: string;
  builtAtStart: number;
  builtAtEnd: number;
}

export interface LifetimeRss extends Lifetime {
  samples: number;
  warmKib: number | null;
  endKib: number | null;
  maxKib: number | null;
  /** end / warm − 1, null when the lifetime is too short for both windows. */
  growth: number | null;
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  const hi = s[m] ?? 0;
  return s.length % 2 ? hi : ((s[m - 1] ?? hi) + hi) / 2;
}

export function rssByLifetime(lifetimes: Lifetime[], samples: RssSample[], total: number): LifetimeRss[] {
  return lifetimes.map((l) => {
    const mine = samples.filter((s) => s.lifetime === l.index);
    const warmFrom = l.builtAtStart + 0.1 * total;
    const warmTo = l.builtAtStart + 0.15 * total;
    const endFrom = l.builtAtEnd - 0.05 * total;
    const long = endFrom > warmTo;
    const warmKib = long ? median(mine.filter((s) => s.built >= warmFrom && s.built < warmTo).map((s) => s.kib)) : null;
    const endKib = long ? median(mine.filter((s) => s.built >= endFrom).map((s) => s.kib)) : null;
    const maxKib = mine.length > 0 ? Math.max(...mine.map((s) => s.kib)) : null;
    const growth = warmKib !== null && endKib !== null ? endKib / warmKib - 1 : null;
    return { ...l, samples: mine.length, warmKib, endKib, maxKib, growth };
  });
}
