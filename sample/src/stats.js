/** Mean and sample standard deviation: the small library the sample build tests. */
export function mean(values) {
  if (values.length === 0) throw new RangeError('mean of no values');
  return values.reduce((a, b) => a + b, 0) / values.length;
}

// TODO: a streaming variant for very long series
export function stddev(values) {
  if (values.length < 2) throw new RangeError('stddev needs at least two values');
  const m = mean(values);
  return Math.sqrt(values.reduce((a, v) => a + (v - m) ** 2, 0) / (values.length - 1));
}
