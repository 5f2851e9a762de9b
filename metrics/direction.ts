/**
 * Which way is worse for a series of a given kind: sizes, times and counts grow worse; a ratio
 * (coverage, hit rate) shrinks. A gauge is read like a size. One rule for everything that judges a
 * direction: the change-point verdict, the reporters' metric deltas.
 */
export function worseWhen(kind: string | null | undefined): 'higher' | 'lower' {
  return kind === 'ratio' ? 'lower' : 'higher';
}
