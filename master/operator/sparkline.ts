/** A series of numbers as a line of unicode block characters, lowest ▁ to highest █. */
const BARS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'] as const;

export function sparkline(values: readonly number[]): string {
  if (values.length === 0) return '';
  const min = Math.min(...values);
  const max = Math.max(...values);
  // All alike: a flat line in the middle, not a row of lows that reads as "dropped".
  if (max === min) return BARS[3].repeat(values.length);
  return values.map((v) => BARS[Math.min(BARS.length - 1, Math.floor(((v - min) / (max - min)) * BARS.length))]).join('');
}
