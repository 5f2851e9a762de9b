/** What the master knows of each series: its kind, unit and the tag keys seen on it. */
import type { DataSource, Repository } from 'typeorm';
import { z } from 'zod';
import type { MetricSeriesRow } from '../master/db/index.ts';
import { parseJson } from '../core/parse-json.ts';

export interface SeriesDescription {
  series: string;
  kind: string;
  unit: string | null;
  tagKeys: string[];
}

export class SeriesRegistry {
  private readonly repo: Repository<MetricSeriesRow>;
  private readonly known = new Map<string, MetricSeriesRow>();
  /** Tag keys per series, parsed once (note() runs for every captured point). */
  private readonly keys = new Map<string, Set<string>>();
  private loaded: Promise<void> | null = null;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(source: DataSource) {
    this.repo = source.getRepository<MetricSeriesRow>('MetricSeries');
  }

  private load(): Promise<void> {
    this.loaded ??= this.repo.find().then((rows) => {
      for (const r of rows) {
        this.known.set(r.name, r);
        this.keys.set(r.name, new Set(tagKeysOf(r)));
      }
    });
    return this.loaded;
  }

  /** Records the series (first kind and unit win) and any tag key not seen before on it. */
  async note(series: string, kind: string, unit: string | null, tagKeys: string[]): Promise<void> {
    await this.load();
    const row = this.known.get(series);
    const keys = this.keys.get(series);
    if (row && keys && tagKeys.every((k) => keys.has(k))) return;
    const next = this.chain.then(async () => {
      const current = this.known.get(series) ?? (await this.repo.findOneBy({ name: series }));
      const merged = [...new Set([...(current ? tagKeysOf(current) : []), ...tagKeys])].sort();
      const saved = await this.repo.save(
        { ...(current ?? { name: series, kind, unit }), tag_keys: JSON.stringify(merged) },
        { transaction: false },
      );
      this.known.set(series, saved);
      this.keys.set(series, new Set(merged));
    });
    this.chain = next.catch(() => {});
    await next;
  }

  async get(series: string): Promise<SeriesDescription | null> {
    await this.load();
    const r = this.known.get(series);
    return r ? describe(r) : null;
  }

  async list(): Promise<SeriesDescription[]> {
    await this.load();
    return [...this.known.values()].map(describe).sort((a, b) => (a.series < b.series ? -1 : 1));
  }
}

function describe(r: MetricSeriesRow): SeriesDescription {
  return { series: r.name, kind: r.kind, unit: r.unit, tagKeys: tagKeysOf(r) };
}

const tagKeys = z.array(z.string());

function tagKeysOf(r: MetricSeriesRow): string[] {
  return parseJson(r.tag_keys, tagKeys, `the tag keys of series ${r.name}`);
}
