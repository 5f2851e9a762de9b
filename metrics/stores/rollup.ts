/**
 * Rollups: what the InfluxDB store keeps beside the raw points so a summary over a big series reads a
 * few rows instead of every point (InfluxDB 1.x scans raw points once per aggregate function).
 *
 * A rollup cell holds, for one series, one tag set and one hour, the exact count, mean, M2 (sum of
 * squared deviations, Welford), minimum and maximum, plus a DDSketch (@datadog/sketches-js) of the
 * values whose quantiles are within SKETCH_ACCURACY relative error. Cells merge exactly (Chan et al.)
 * for the moments and losslessly for the sketches, so any tag filter and any run of whole hours is
 * answered by merging rows.
 */
import { DDSketch } from '@datadog/sketches-js';

type Store = DDSketch['store'];

export const ROLLUP_MEASUREMENT = 'caliper_rollup';
/** Marks series whose every point from `since` (µs) on is in rollups. */
export const COVERAGE_MEASUREMENT = 'caliper_rollup_since';
/** One hour: never longer than an InfluxDB shard (1 h for retention policies under 2 days). */
export const ROLLUP_BUCKET_US = 3_600_000_000;
/**
 * A rollup row's fields, in this order. Prefixed so that no user tag can share a name with them
 * (tag names starting with "caliper_" are refused at capture).
 */
export const ROLLUP_FIELDS = ['caliper_n', 'caliper_mean', 'caliper_m2', 'caliper_min', 'caliper_max', 'caliper_sketch'] as const;
/** Tag telling apart the rows of different master processes (random per process). */
export const WRITER_TAG = 'caliper_writer';
/** Relative accuracy of percentiles answered from rollups. */
export const SKETCH_ACCURACY = 0.001;
/** InfluxDB 1.x refuses string fields over 64 KB; a cell whose sketch is bigger is written without one. */
const MAX_SKETCH_CHARS = 60_000;
/**
 * Widest key range (bins) of a store: 20 000 bins at 0.1% span a ratio of 2e17 between the smallest
 * and largest magnitude. A cell whose values spread wider drops its sketch (its percentiles then come
 * from raw points) rather than lose accuracy; the library also grows a store with one call per bin,
 * which overflows the stack beyond ~120 000.
 */
export const MAX_CELL_BINS = 20_000;
export const MAX_MERGED_BINS = 60_000;

/** Whether adding `value` keeps each of the sketch's stores within `maxBins` keys. */
export function fits(sketch: DDSketch, value: number, maxBins: number): boolean {
  const { minPossible } = sketch.mapping;
  const store = value > minPossible ? sketch.store : value < -minPossible ? sketch.negativeStore : null;
  return store === null || fitsKey(store, sketch.mapping.key(Math.abs(value)), maxBins);
}

function fitsKey(store: Store, key: number, maxBins: number): boolean {
  return store.count === 0 || Math.max(store.maxKey, key) - Math.min(store.minKey, key) < maxBins;
}

/** Count, mean and M2 of a set of values, updated one value at a time and merged exactly. */
export class Moments {
  n = 0;
  mean = 0;
  m2 = 0;
  min = Infinity;
  max = -Infinity;

  add(x: number): void {
    this.n += 1;
    const d = x - this.mean;
    this.mean += d / this.n;
    this.m2 += d * (x - this.mean);
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
  }

  merge(o: { n: number; mean: number; m2: number; min: number; max: number }): void {
    if (o.n === 0) return;
    const n = this.n + o.n;
    const d = o.mean - this.mean;
    this.mean += (d * o.n) / n;
    this.m2 += o.m2 + (d * d * this.n * o.n) / n;
    this.n = n;
    if (o.min < this.min) this.min = o.min;
    if (o.max > this.max) this.max = o.max;
  }

  get deviation(): number | null {
    return this.n > 1 ? Math.sqrt(this.m2 / (this.n - 1)) : null;
  }
}

export function newSketch(): DDSketch {
  return new DDSketch({ relativeAccuracy: SKETCH_ACCURACY });
}

/** One series, tag set and hour, as this process has seen it. */
export class RollupCell {
  readonly moments = new Moments();
  /** Null once the cell's values spread over more than MAX_CELL_BINS. */
  sketch: DDSketch | null = newSketch();
  lastTouchedMs = 0;

  constructor(
    /** Escaped `caliper_rollup,series=…,tags…` (line protocol up to the fields). */
    readonly prefix: string,
    /** The row's timestamp (µs): inside its hour (see RollupWriter). */
    readonly timeUs: number,
  ) {}

  add(value: number): void {
    this.moments.add(value);
    if (this.sketch && fits(this.sketch, value, MAX_CELL_BINS)) this.sketch.accept(value);
    else this.sketch = null;
  }

  /** The line-protocol fields of the cell's current state. */
  fields(): string {
    const m = this.moments;
    const encoded = this.sketch ? encodeSketch(this.sketch) : '';
    const sketch = encoded.length <= MAX_SKETCH_CHARS ? encoded : '';
    return `caliper_n=${m.n}i,caliper_mean=${String(m.mean)},caliper_m2=${String(m.m2)},caliper_min=${String(m.min)},caliper_max=${String(m.max)},caliper_sketch="${sketch}"`;
  }
}

/** Rollup rows merged: exact moments, and the merged sketch unless a row had none. */
export interface MergedRollup {
  moments: Moments;
  sketch: DDSketch | null;
}

/** Merges rows of `SELECT caliper_n, …[, caliper_sketch] FROM caliper_rollup` (no sketch column: null). */
export function mergeRows(columns: string[], rows: unknown[][]): MergedRollup {
  const at = (name: (typeof ROLLUP_FIELDS)[number]) => columns.indexOf(name);
  const [ni, meani, m2i, mini, maxi, si] = [
    at('caliper_n'),
    at('caliper_mean'),
    at('caliper_m2'),
    at('caliper_min'),
    at('caliper_max'),
    at('caliper_sketch'),
  ];
  const moments = new Moments();
  let sketch: DDSketch | null = newSketch();
  for (const row of rows) {
    const n = Number(row[ni] ?? 0);
    if (n === 0) continue;
    moments.merge({ n, mean: Number(row[meani]), m2: Number(row[m2i]), min: Number(row[mini]), max: Number(row[maxi]) });
    const encoded = row[si];
    if (sketch && typeof encoded === 'string' && encoded.length > 0) {
      try {
        addEncoded(sketch, encoded);
      } catch {
        sketch = null; // a damaged row, or rows too far apart: percentiles then come from the raw points
      }
    } else sketch = null;
  }
  return { moments, sketch };
}

/*
 * Sketch encoding: the library's protobuf form stores every bin of a dense range as an 8-byte double,
 * 60+ KB for values spanning a few decades. Rows carry only the occupied bins instead, as unsigned
 * LEB128 varints in base64: zero count, then per store (positive, negative) the number of occupied
 * bins and for each the key's distance from the previous occupied key (the first one zigzag-encoded
 * from 0) and its count.
 */
function writeVarint(out: number[], v: number): void {
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

const zigzag = (v: number): number => (v >= 0 ? 2 * v : -2 * v - 1);
const unzigzag = (v: number): number => (v % 2 === 0 ? v / 2 : -(v + 1) / 2);

function writeStore(out: number[], store: Store): void {
  const occupied: [number, number][] = [];
  store.bins.forEach((count, i) => {
    if (count > 0) occupied.push([i + store.offset, count]);
  });
  writeVarint(out, occupied.length);
  let previous = 0;
  occupied.forEach(([key, count], i) => {
    writeVarint(out, i === 0 ? zigzag(key) : key - previous);
    writeVarint(out, count);
    previous = key;
  });
}

export function encodeSketch(sketch: DDSketch): string {
  const out: number[] = [];
  writeVarint(out, sketch.zeroCount);
  writeStore(out, sketch.store);
  writeStore(out, sketch.negativeStore);
  return Buffer.from(out).toString('base64');
}

/** Adds an encoded sketch's bins to `sketch` (made with the same accuracy); throws if damaged or too wide. */
export function addEncoded(sketch: DDSketch, encoded: string): void {
  const bytes = Buffer.from(encoded, 'base64');
  let at = 0;
  const read = (): number => {
    let v = 0;
    let scale = 1;
    for (;;) {
      const b = bytes[at++];
      if (b === undefined) throw new Error('truncated sketch in a rollup row');
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 0x80;
    }
  };
  const zeros = read();
  sketch.zeroCount += zeros;
  sketch.count += zeros;
  for (const store of [sketch.store, sketch.negativeStore]) {
    const bins = read();
    let key = 0;
    for (let i = 0; i < bins; i++) {
      key = i === 0 ? unzigzag(read()) : key + read();
      const count = read();
      if (!fitsKey(store, key, MAX_MERGED_BINS)) throw new Error('rollup sketches spread too widely to merge');
      store.add(key, count);
      sketch.count += count;
    }
  }
}
