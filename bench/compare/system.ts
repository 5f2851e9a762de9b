/**
 * What the comparison needs of a build master, whichever it is: the measurements (measure.ts) are
 * written once against this, and buildbot-side.ts and caliper-side.ts each implement it with their
 * own REST API.
 */
import type { BuilderName } from './workload.ts';

export type SystemName = 'Buildbot' | 'Caliper';

export interface FinishedBuild {
  buildid: number;
  /** Buildbot's result code: 0 is SUCCESS. */
  results: number | null;
}

export interface BenchSystem {
  readonly name: SystemName;
  /** The master's HTTP root, e.g. http://127.0.0.1:PORT (its REST API under /api/v2). */
  readonly url: string;
  /** The master's process, for its RSS. */
  readonly masterPid: number;
  /** Queues a build of `builder`; the build request's id. */
  force(builder: BuilderName): Promise<number>;
  /** Whether the build request has completed. */
  requestComplete(buildrequestid: number): Promise<boolean>;
  /** The (last) build of a completed request. */
  buildOf(buildrequestid: number): Promise<FinishedBuild>;
  /** What a small step printed on stdout (a mark's clock). */
  stepStdout(buildid: number, stepName: string): Promise<string>;
  /** Byte count and sha256 of what a step printed on stdout, read back through the API. */
  stdoutDigest(buildid: number, stepName: string): Promise<{ bytes: number; sha256: string }>;
  /** How many builds the master has stored. */
  buildCount(): Promise<number>;
  stop(): Promise<void>;
  /** For an exit handler that cannot wait: SIGKILL to its processes. */
  killNow(): void;
}
