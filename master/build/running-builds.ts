/**
 * The builds this master runs now. A build is tracked from the moment it is launched (before it has
 * a database row) until its run has settled, whatever way it ended; it is found by build id once
 * its row exists, so stops (local, or forwarded by another master) reach it.
 *
 * States of the set: open -> draining (drain() called: launch() refuses, running builds get the
 * deadline to finish, then are stopped) -> drained.
 */
import type { BuildRow } from '../db/entities.ts';

/** What the set needs of a build: run it, and stop it. */
export interface RunnableBuild {
  run(hooks: { onStarted?: (row: BuildRow) => void }): Promise<unknown>;
  stop(reason: string): void;
}

export class RunningBuilds {
  private readonly byId = new Map<number, RunnableBuild>();
  private readonly settling = new Set<Promise<void>>();
  private draining = false;

  get size(): number {
    return this.settling.size;
  }

  get(buildid: number): RunnableBuild | undefined {
    return this.byId.get(buildid);
  }

  /**
   * Runs the build; `onFailure` records a run that threw (an internal error), `onSettled` frees what
   * the build held (agent, locks). Both run before the build leaves the set.
   */
  launch(build: RunnableBuild, handlers: { onFailure(e: unknown): Promise<void>; onSettled(): void }): void {
    if (this.draining) throw new Error('RunningBuilds: launch() after drain() began');
    let buildid: number | null = null;
    const settled: Promise<void> = build
      .run({
        onStarted: (row) => {
          buildid = row.id;
          this.byId.set(row.id, build);
        },
      })
      .then(
        () => {},
        (e: unknown) => handlers.onFailure(e),
      )
      .finally(() => {
        if (buildid !== null) this.byId.delete(buildid);
        handlers.onSettled();
        this.settling.delete(settled);
      });
    this.settling.add(settled);
  }

  /**
   * Waits up to `deadlineMs` for every running build to finish; then stops the rest (CANCELLED) and
   * waits up to `stopGraceMs` for them to record it.
   */
  async drain(deadlineMs: number, stopReason: string, stopGraceMs = 10_000): Promise<void> {
    this.draining = true;
    const all = Promise.allSettled([...this.settling]);
    if ((await Promise.race([all, delay(deadlineMs)])) !== TIMEOUT) return;
    for (const b of this.byId.values()) b.stop(stopReason);
    await Promise.race([all, delay(stopGraceMs)]);
  }
}

const TIMEOUT = Symbol('timeout');
function delay(ms: number): Promise<typeof TIMEOUT> {
  return new Promise((resolve) => setTimeout(() => resolve(TIMEOUT), ms).unref());
}
