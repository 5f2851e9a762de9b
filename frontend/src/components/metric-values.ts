/**
 * A build's measured points as a list: "series value (baseline median ± spread, n, score)". The score
 * says how many spreads the value is from the builder's usual; far from it is highlighted.
 */
import type { BuildMetric } from '../../../protocol/api-types.ts';
import { h } from '../dom.ts';
import { formatValue } from '../format.ts';

const NOTABLE_SCORE = 3;

export function metricValues(points: BuildMetric[], units: ReadonlyMap<string, string | null>): HTMLElement {
  return h(
    'ul',
    { class: 'metric-values' },
    points.map((p) => {
      const unit = units.get(p.series) ?? null;
      const b = p.baseline;
      const score = p.score;
      const scoreClass =
        score === null ? '' : score >= NOTABLE_SCORE ? 'score score-high' : score <= -NOTABLE_SCORE ? 'score score-low' : 'score';
      return h(
        'li',
        { class: 'metric-value', 'data-series': p.series },
        h('span', { class: 'metric-series' }, p.series),
        ' ',
        h('strong', { class: 'metric-number' }, formatValue(p.value, unit)),
        ' ',
        h(
          'span',
          { class: 'metric-baseline muted' },
          b
            ? [
                `(baseline ${formatValue(b.median, unit)} ± ${formatValue(b.spread, unit)}, n=${b.n}, score `,
                h('span', { class: scoreClass }, scoreText(score)),
                ')',
              ]
            : '(no baseline yet)',
        ),
      );
    }),
  );
}

/** "+1.5", "-0.8"; a huge score (a series that never varied, then did) reads "+999+". */
function scoreText(score: number | null): string {
  if (score === null || Number.isNaN(score)) return '–';
  const sign = score >= 0 ? '+' : '-';
  return Math.abs(score) >= 1000 ? `${sign}999+` : `${sign}${Math.abs(score).toFixed(1)}`;
}
