import { Initial1764000000001 } from './0001-initial.ts';
import { Metrics1764000000002 } from './0002-metrics.ts';
import { MetricValueIndexes1764000000003 } from './0003-metric-value-indexes.ts';
import { MetricSpoolOwner1764000000004 } from './0004-metric-spool-owner.ts';
import { Changes1764000000005 } from './0005-changes.ts';
import { ChangeWaiting1764000000006 } from './0006-change-waiting.ts';
import { TriggeredBy1764000000007 } from './0007-triggered-by.ts';
import { BuildNumberCounter1764000000008 } from './0008-build-number-counter.ts';
import { ReporterOutbox1764000000009 } from './0009-reporter-outbox.ts';
import { ChangeProperties1764000000010 } from './0010-change-properties.ts';
import { Artifacts1764000000011 } from './0011-artifacts.ts';
import { Buildsets1764000000012 } from './0012-buildsets.ts';
import { RequestPriority1764000000013 } from './0013-request-priority.ts';
import { Matrix1764000000015 } from './0015-matrix.ts';
import { LogCompression1764000000016 } from './0016-log-compression.ts';
import { ChangePoints1764000000018 } from './0018-change-points.ts';
import { Bisections1764000000019 } from './0019-bisections.ts';
import { PointSamples1764000000020 } from './0020-point-samples.ts';
import { MetricStepIndex1764000000021 } from './0021-metric-step-index.ts';

/** Every migration, oldest first. Add new ones at the end; never edit one that has shipped. */
export const migrations = [
  Initial1764000000001,
  Metrics1764000000002,
  MetricValueIndexes1764000000003,
  MetricSpoolOwner1764000000004,
  Changes1764000000005,
  ChangeWaiting1764000000006,
  TriggeredBy1764000000007,
  BuildNumberCounter1764000000008,
  ReporterOutbox1764000000009,
  ChangeProperties1764000000010,
  Artifacts1764000000011,
  Buildsets1764000000012,
  RequestPriority1764000000013,
  Matrix1764000000015,
  LogCompression1764000000016,
  ChangePoints1764000000018,
  Bisections1764000000019,
  PointSamples1764000000020,
  MetricStepIndex1764000000021,
];
