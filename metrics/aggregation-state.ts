/**
 * The state behind `accumulate`, `absValue` and `diff`: a running total and the last reported value
 * per series and tag set, kept in the `metric_state` table so it survives a master restart.
 * Updates to one key are serialized, so concurrent captures never lose an increment.
 */
import type { DataSource, Repository } from 'typeorm';
import type { MetricStateRow } from '../master/db/index.ts';

export class AggregationState {
  private readonly repo: Repository<MetricStateRow>;
  private readonly cache = new Map<string, MetricStateRow>();
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(source: DataSource) {
    this.repo = source.getRepository<MetricStateRow>('MetricState');
  }

  /** Applies `update` to the key's state and stores the result; returns what update returned. */
  update<T>(key: string, update: (state: MetricStateRow) => T): Promise<T> {
    const previous = this.queues.get(key) ?? Promise.resolve();
    const next = previous.then(async () => {
      let state = this.cache.get(key) ?? (await this.repo.findOneBy({ key }));
      state ??= { key, last_value: null, total: 0 };
      const result = update(state);
      await this.repo.save(state, { transaction: false });
      this.cache.set(key, state);
      return result;
    });
    const settled = next.catch(() => {});
    this.queues.set(key, settled);
    void settled.then(() => {
      if (this.queues.get(key) === settled) this.queues.delete(key);
    });
    return next;
  }
}
