/**
 * The persistence seam: what parts outside master/ (the metrics stores and listeners) may know of
 * the database. Types only; the master opens the database and hands these over.
 */
export type { Database } from './data-source.ts';
export type { DbKind } from './db-kind.ts';
export type { Repositories } from './repositories.ts';
export type { MetricPointRow, MetricSeriesRow, MetricSpoolRow, MetricStateRow } from './entities.ts';
