/**
 * `npm run bench:regressions`: a seeded, labelled corpus of build-metric series run through the
 * change-point detector (metrics/change-points) and through today's median/MAD gate
 * (metrics/regression.ts), point by point as builds would report them. Prints precision, recall, F1,
 * the median detection delay (builds after the change) and the false-alert rates, side by side.
 *
 * The detection delay of a found step is the number of builds of the new level the method had seen
 * when it first alerted (fed point by point): 3 = on the third changed build.
 *
 * Knobs (environment): BENCH_SEED (1), BENCH_CHECK_SEED (seed + 1: a second corpus, summarised),
 * BENCH_REPS (6: series per cell), BENCH_LENGTH (150).
 */
import { median } from 'simple-statistics';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import { ChangePointDetector, type DetectorOptions } from '../metrics/change-points/index.ts';
import { computeBaseline, regressionScore } from '../metrics/regression.ts';

const SEED = Number(process.env.BENCH_SEED ?? 1);
/** A second corpus the detector was not tuned on, to show the figures are not the seed's luck. */
const CHECK_SEED = Number(process.env.BENCH_CHECK_SEED ?? SEED + 1);
const REPS = Number(process.env.BENCH_REPS ?? 6);
const LENGTH = Number(process.env.BENCH_LENGTH ?? 150);
/** An alert within this many builds of the true change point counts as finding it. */
const TOLERANCE = 5;
/** Detector options to try, as JSON (tuning): BENCH_DETECTOR='{"maxPValue":1e-5}'. */
const DETECTOR = JSON.parse(process.env.BENCH_DETECTOR ?? '{}') as Partial<DetectorOptions>;
const GATE_WINDOW = 10;
const GATE_THRESHOLD = 3;

const NOISES = ['gaussian', 'heavy-tailed', 'bimodal', 'outliers'] as const;
type Noise = (typeof NOISES)[number];
const CVS = [0.005, 0.01, 0.02, 0.05];
const STEPS = [0.02, 0.05, 0.1, 0.2];
const DRIFTS = [0.05, 0.1];

interface Series {
  kind: 'step' | 'drift' | 'none';
  noise: Noise;
  cv: number;
  /** Step size or total drift (a fraction, signed). */
  size: number;
  /** Index of the first changed point (steps only). */
  at: number | null;
  values: number[];
}

/** A sample with mean 0 and standard deviation 1 of the given family. */
function noiseSample(rng: RandomGenerator, noise: Noise): number {
  const u = () => uniformFloat64(rng) || Number.MIN_VALUE;
  const gauss = () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  switch (noise) {
    case 'gaussian':
    case 'outliers':
      return gauss();
    case 'heavy-tailed': {
      // Student's t with 3 degrees of freedom (variance 3), scaled to variance 1.
      const chi = gauss() ** 2 + gauss() ** 2 + gauss() ** 2;
      return gauss() / Math.sqrt(chi / 3) / Math.sqrt(3);
    }
    case 'bimodal':
      // Two modes ±0.8 apart from the mean, each with spread 0.6: variance 0.64 + 0.36 = 1.
      return (u() < 0.5 ? -0.8 : 0.8) + 0.6 * gauss();
    default: {
      const never: never = noise;
      return never;
    }
  }
}

function makeSeries(rng: RandomGenerator, kind: Series['kind'], noise: Noise, cv: number, size: number): Series {
  const base = 10 * 100 ** uniformFloat64(rng); // 10 … 1000
  const at = kind === 'step' ? Math.floor(LENGTH * 0.4 + uniformFloat64(rng) * LENGTH * 0.25) : null;
  const values = Array.from({ length: LENGTH }, (_, i) => {
    const level = kind === 'step' ? (i >= (at ?? 0) ? 1 + size : 1) : kind === 'drift' ? 1 + (size * i) / (LENGTH - 1) : 1;
    let v = base * level * (1 + cv * noiseSample(rng, noise));
    // A cold cache or a stuck agent: one build in 50 is 20–60 % slower.
    if (noise === 'outliers' && uniformFloat64(rng) < 0.02) v *= 1.2 + 0.4 * uniformFloat64(rng);
    return v;
  });
  return { kind, noise, cv, size, at, values };
}

function corpus(seed: number): Series[] {
  const rng = xoroshiro128plus(seed);
  const all: Series[] = [];
  for (const noise of NOISES)
    for (const cv of CVS)
      for (let r = 0; r < REPS; r++) {
        for (const step of STEPS) for (const sign of [1, -1]) all.push(makeSeries(rng, 'step', noise, cv, sign * step));
        for (const drift of DRIFTS) all.push(makeSeries(rng, 'drift', noise, cv, r % 2 === 0 ? drift : -drift));
        for (let k = 0; k < 4; k++) all.push(makeSeries(rng, 'none', noise, cv, 0));
      }
  return all;
}

/** An alert: raised when build `time` arrived, about a change at `at`. */
interface Alert {
  time: number;
  at: number;
}

function detectorAlerts(values: number[]): Alert[] {
  const detector = new ChangePointDetector(DETECTOR);
  const alerts: Alert[] = [];
  for (let i = 0; i < values.length; i++) {
    detector.add(values[i] ?? 0);
    // A change that moved by a build or two as points arrived is the same alert.
    for (const c of detector.changes())
      if (!alerts.some((a) => Math.abs(a.at - c.index) <= TOLERANCE)) alerts.push({ time: i, at: c.index });
  }
  return alerts;
}

/** Today's gate: each build scored against the median/MAD of the previous ones (all good builds). */
function gateAlerts(values: number[]): Alert[] {
  const alerts: Alert[] = [];
  let lastFlagged = -Infinity;
  for (let i = 1; i < values.length; i++) {
    const baseline = computeBaseline(values.slice(Math.max(0, i - GATE_WINDOW), i));
    if (!baseline || Math.abs(regressionScore(values[i] ?? 0, baseline)) <= GATE_THRESHOLD) continue;
    // Successive flagged builds after a step are one alert, not several; it was raised by the first.
    if (i - lastFlagged > TOLERANCE) alerts.push({ time: i, at: i });
    lastFlagged = i;
  }
  return alerts;
}

interface Outcome {
  series: Series;
  tp: number;
  fp: number;
  delay: number | null;
}

function score(series: Series, alerts: Alert[]): Outcome {
  if (series.at === null) return { series, tp: 0, fp: alerts.length, delay: null };
  const at = series.at;
  const hits = alerts.filter((a) => Math.abs(a.at - at) <= TOLERANCE && a.time >= at);
  const first = hits[0];
  // Builds of the new level the method had seen when it alerted: 1 = on the first changed build.
  return { series, tp: first ? 1 : 0, fp: alerts.length - hits.length, delay: first ? first.time - at + 1 : null };
}

interface Figures {
  precision: number;
  recall: number;
  f1: number;
  delay: number | null;
  steps: number;
}

function figures(outcomes: Outcome[]): Figures {
  const steps = outcomes.filter((o) => o.series.kind === 'step');
  const tp = steps.reduce((s, o) => s + o.tp, 0);
  const fp = outcomes.reduce((s, o) => s + o.fp, 0);
  const precision = tp + fp === 0 ? 1 : tp / (tp + fp);
  const recall = steps.length === 0 ? 1 : tp / steps.length;
  const delays = steps.flatMap((o) => (o.delay === null ? [] : [o.delay]));
  return {
    precision,
    recall,
    f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall),
    delay: delays.length ? median(delays) : null,
    steps: steps.length,
  };
}

const alertRate = (outcomes: Outcome[]) => outcomes.filter((o) => o.fp > 0).length / Math.max(1, outcomes.length);
const f = (x: number | null, digits = 2) => (x === null ? '—' : x.toFixed(digits));
const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

const METHODS = [
  { name: 'change points', alerts: detectorAlerts },
  { name: 'median/MAD gate', alerts: gateAlerts },
];

function evaluate(series: Series[]): { name: string; outcomes: Outcome[] }[] {
  return METHODS.map((m) => ({ name: m.name, outcomes: series.map((s) => score(s, m.alerts(s.values))) }));
}

const targetSteps = (o: Outcome) => o.series.kind === 'step' && Math.abs(o.series.size) >= 0.05 && o.series.cv <= 0.02;
const quiet = (o: Outcome, maxCv: number) => o.series.kind !== 'step' && o.series.cv <= maxCv;
const TARGET_LABEL = 'TARGET: steps ≥5 %, CV ≤2 %';

function main(): void {
  const started = performance.now();
  const series = corpus(SEED);
  const results = evaluate(series);
  const check = evaluate(corpus(CHECK_SEED));
  const seconds = (performance.now() - started) / 1000;

  console.log(
    `corpus: ${series.length} series of ${LENGTH} builds (seed ${SEED}): steps of ±${STEPS.map((s) => s * 100).join('/')} %, ` +
      `drifts of ±${DRIFTS.map((d) => d * 100).join('/')} % over the series, no change; noise ${NOISES.join(', ')} at CV ${CVS.map((c) => c * 100).join('/')} %`,
  );
  console.log(
    `an alert finds a step when it points within ${TOLERANCE} builds of it; gate: |score| > ${GATE_THRESHOLD} over the last ${GATE_WINDOW} builds\n`,
  );

  const row = (label: string, pick: (o: Outcome) => boolean) => {
    const cells = results.map((r) => {
      const fig = figures(r.outcomes.filter(pick));
      return `${f(fig.precision)} ${f(fig.recall)} ${f(fig.f1)} ${f(fig.delay, 1).padStart(5)}`;
    });
    console.log(`${label.padEnd(34)}${cells.map((c) => c.padEnd(28)).join('')}`);
  };
  console.log(`${''.padEnd(34)}${results.map((r) => r.name.padEnd(28)).join('')}`);
  console.log(`${'subset'.padEnd(34)}${results.map(() => 'prec  rec   F1   delay'.padEnd(28)).join('')}`);
  row(TARGET_LABEL, (o) => targetSteps(o) || quiet(o, 0.02));
  for (const step of STEPS)
    row(
      `steps ${step * 100} %, CV ≤2 %`,
      (o) => (o.series.kind === 'step' && Math.abs(o.series.size) === step && o.series.cv <= 0.02) || quiet(o, 0.02),
    );
  for (const cv of CVS)
    row(
      `steps ≥5 %, CV ${cv * 100} %`,
      (o) => (o.series.kind === 'step' && Math.abs(o.series.size) >= 0.05 && o.series.cv === cv) || (quiet(o, cv) && o.series.cv === cv),
    );
  for (const noise of NOISES)
    row(
      `steps ≥5 %, CV ≤2 %, ${noise}`,
      (o) =>
        o.series.noise === noise &&
        ((o.series.kind === 'step' && Math.abs(o.series.size) >= 0.05 && o.series.cv <= 0.02) || quiet(o, 0.02)),
    );
  row('everything', () => true);
  console.log('(precision counts the alerts on drift and no-change series of the same noise too)\n');

  console.log(`${'false alerts: share of series alerting'.padEnd(42)}${results.map((r) => r.name.padEnd(18)).join('')}`);
  const rate = (label: string, pick: (o: Outcome) => boolean) =>
    console.log(`${label.padEnd(42)}${results.map((r) => pct(alertRate(r.outcomes.filter(pick))).padEnd(18)).join('')}`);
  rate('no change, CV ≤2 %', (o) => o.series.kind === 'none' && o.series.cv <= 0.02);
  rate('no change, all', (o) => o.series.kind === 'none');
  rate('slow drift, CV ≤2 %', (o) => o.series.kind === 'drift' && o.series.cv <= 0.02);
  rate('slow drift, all', (o) => o.series.kind === 'drift');
  for (const noise of NOISES) rate(`no change, ${noise}`, (o) => o.series.kind === 'none' && o.series.noise === noise);

  console.log(`\ncheck corpus (seed ${CHECK_SEED}, same shape):`);
  const checkCells = check.map((r) => {
    const fig = figures(r.outcomes.filter((o) => targetSteps(o) || quiet(o, 0.02)));
    return `${f(fig.precision)} ${f(fig.recall)} ${f(fig.f1)} ${f(fig.delay, 1).padStart(5)}`;
  });
  console.log(`${TARGET_LABEL.padEnd(34)}${checkCells.map((c) => c.padEnd(28)).join('')}`);
  const checkRate = (label: string, pick: (o: Outcome) => boolean) =>
    console.log(`${label.padEnd(42)}${check.map((r) => pct(alertRate(r.outcomes.filter(pick))).padEnd(18)).join('')}`);
  checkRate('false alerts: no change, CV ≤2 %', (o) => o.series.kind === 'none' && o.series.cv <= 0.02);
  checkRate('false alerts: slow drift, CV ≤2 %', (o) => o.series.kind === 'drift' && o.series.cv <= 0.02);
  console.log(`\n${seconds.toFixed(1)} s for both methods over both corpora`);
}

main();
