/**
 * Whether confirming reruns hold a change: each rerun's value is put with the segment whose mean it
 * is nearer, and the change is confirmed when more than half of the reruns sit with the "after"
 * segment. A rerun that measured nothing counts against it, and so does a tie: an alert is raised
 * only when the reruns say so.
 */
export type Confirmation = 'confirmed' | 'dismissed';

export function confirmationOf(meanBefore: number, meanAfter: number, values: readonly (number | null)[]): Confirmation {
  if (values.length === 0) return 'dismissed';
  const withAfter = values.filter((v) => v !== null && Math.abs(v - meanAfter) < Math.abs(v - meanBefore)).length;
  return withAfter * 2 > values.length ? 'confirmed' : 'dismissed';
}
