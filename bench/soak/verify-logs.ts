/**
 * Checks a build's logs against the payload its `seq` makes (bench/soak/payload.ts), through the API
 * (`/builds/{id}/steps`, `/steps/{id}/logs`, `/logs/{id}/raw`):
 *   - a SUCCESS build must have exactly the steps `text` and `bytes`, each SUCCESS, each `stdio` log
 *     byte-identical to what the step printed;
 *   - a build that was interrupted (RETRY, EXCEPTION) holds what was stored before the interruption:
 *     each of its logs must be a prefix of the expected bytes (nothing written twice or out of order).
 */
import { attempt, type BuildView, type SoakApi } from './api.ts';
import { STEPS } from './payload.ts';
import { Results } from '../../core/results.ts';

export interface LogCheck {
  buildid: number;
  seq: number;
  kind: 'complete' | 'prefix';
  ok: boolean;
  /** What differs, for the report (empty when ok). */
  problem: string;
}

function firstDifference(a: Buffer, b: Buffer): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

function describe(stored: Buffer, expected: Buffer, at: number): string {
  const around = (b: Buffer) => JSON.stringify(b.subarray(Math.max(0, at - 20), at + 20).toString('latin1'));
  return `${stored.length} bytes stored, ${expected.length} expected, first difference at byte ${at}: stored ${around(stored)}, expected ${around(expected)}`;
}

export async function checkBuildLogs(api: SoakApi, build: BuildView, seq: number, deadline: number): Promise<LogCheck> {
  const kind = build.results === Results.SUCCESS ? 'complete' : 'prefix';
  const fail = (problem: string): LogCheck => ({
    buildid: build.buildid,
    seq,
    kind,
    ok: false,
    problem: `build ${build.buildid}: ${problem}`,
  });
  const steps = await attempt(() => api.steps(build.buildid), deadline);
  if (kind === 'complete') {
    const shape = steps.map((s) => `${s.name}=${s.result}`).join(' ');
    if (shape !== STEPS.map((s) => `${s.name}=success`).join(' ')) return fail(`steps ${shape}`);
  }
  for (const step of steps) {
    const spec = STEPS.find((s) => s.name === step.name);
    if (!spec) return fail(`unexpected step ${step.name}`);
    const logid = await attempt(() => api.stdioLogId(step.stepid), deadline);
    if (logid === null) {
      if (kind === 'prefix') continue; // interrupted before its log was made
      return fail(`step ${step.name} has no stdio log`);
    }
    const stored = await attempt(() => api.raw(logid), deadline);
    const expected = spec.expected(seq);
    const same = kind === 'complete' ? stored.equals(expected) : stored.equals(expected.subarray(0, stored.length));
    if (!same) return fail(`step ${step.name} log ${logid}: ${describe(stored, expected, firstDifference(stored, expected))}`);
  }
  return { buildid: build.buildid, seq, kind, ok: true, problem: '' };
}
