/**
 * The work both systems are given, defined once so that Buildbot's master.cfg and Caliper's
 * master.config.ts are generated from the same lists: four builders of ShellCommand steps (argv, no
 * shell, except the log's pipe), one worker/agent running one build at a time.
 *
 * Times that no master's clock or polling should blur are taken on the worker/agent itself: a "mark"
 * step runs `date +%s%N` and prints the wall clock in nanoseconds into its log.
 */
import { createHash } from 'node:crypto';

export const BUILDERS = ['steps', 'throughput', 'log', 'start'] as const;
export type BuilderName = (typeof BUILDERS)[number];

export interface StepSpec {
  name: string;
  argv: string[];
}

export interface WorkloadSize {
  /** `true` steps in the builders `steps` and `throughput`. */
  steps: number;
  /** Lines of 100 bytes the builder `log` prints. */
  logLines: number;
}

export const MARK_FIRST = 'mark-first';
export const MARK_LAST = 'mark-last';
const MARK_ARGV = ['date', '+%s%N'];

// 99 'x' and a newline: every line is 100 bytes, so the log's size is known exactly.
const LOG_WORD = 'x'.repeat(99);
const LOG_LINE = `${LOG_WORD}\n`;

export const logBytes = (size: WorkloadSize): number => size.logLines * LOG_LINE.length;

/** Each builder's steps, in order. */
export function builderSteps(size: WorkloadSize): Record<BuilderName, StepSpec[]> {
  const trues = (prefix: string) =>
    Array.from({ length: size.steps }, (_, i) => ({ name: `${prefix}-${String(i + 1).padStart(2, '0')}`, argv: ['true'] }));
  return {
    // mark, N × true, mark: N + 1 step-to-step intervals between the two clocks.
    steps: [{ name: MARK_FIRST, argv: MARK_ARGV }, ...trues('true'), { name: MARK_LAST, argv: MARK_ARGV }],
    throughput: trues('true'),
    log: [{ name: 'print', argv: ['sh', '-c', `yes ${LOG_WORD} | head -n ${size.logLines}`] }],
    // One step whose clock tells when the first command of a forced build ran.
    start: [{ name: MARK_FIRST, argv: MARK_ARGV }],
  };
}

/** The wall clock a mark step printed, in ms since the epoch (sub-millisecond). */
export function parseMark(stdout: string, where: string): number {
  const m = /^(\d{19})$/m.exec(stdout);
  if (!m?.[1]) throw new Error(`${where}: expected \`date +%s%N\` output (19 digits), got ${JSON.stringify(stdout.slice(0, 200))}`);
  const ns = BigInt(m[1]);
  return Number(ns / 1000n) / 1000;
}

/** Byte count and sha256 of what the builder `log` prints. */
export function expectedLog(size: WorkloadSize): { bytes: number; sha256: string } {
  const h = createHash('sha256');
  const block = Buffer.from(LOG_LINE.repeat(10_000));
  let lines = size.logLines;
  for (; lines >= 10_000; lines -= 10_000) h.update(block);
  h.update(LOG_LINE.repeat(lines));
  return { bytes: logBytes(size), sha256: h.digest('hex') };
}

/** The wall clock now in ms since the epoch, sub-millisecond, comparable with a mark's. */
export const wallClockMs = (): number => performance.timeOrigin + performance.now();
