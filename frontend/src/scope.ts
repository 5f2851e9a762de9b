/**
 * The lifetime of a page or component. States: live → disposed (once, by dispose()). While live it
 * collects clean-ups (WebSocket listeners, observers, charts); dispose() runs them, newest first, and
 * aborts `signal` so fetches and polls in flight stop. A child scope is disposed with its parent.
 */
export class Scope {
  private readonly controller = new AbortController();
  private cleanups: (() => void)[] = [];

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get disposed(): boolean {
    return this.controller.signal.aborted;
  }

  /** Runs `fn` on dispose (at once if already disposed). */
  add(fn: () => void): void {
    if (this.disposed) fn();
    else this.cleanups.push(fn);
  }

  child(): Scope {
    const c = new Scope();
    this.add(() => c.dispose());
    return c;
  }

  dispose(): void {
    if (this.disposed) return;
    this.controller.abort();
    const fns = this.cleanups.reverse();
    this.cleanups = [];
    for (const fn of fns) {
      try {
        fn();
      } catch (e) {
        console.error('clean-up failed', e);
      }
    }
  }
}
