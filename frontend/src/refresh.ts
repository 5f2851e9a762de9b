/**
 * Reloading on live events: a burst of events (ten steps finishing) becomes one reload, and a reload
 * asked for while one is running runs once more after it, so the last event is never lost.
 */
import type { Scope } from './scope.ts';

export function coalesced(scope: Scope, load: () => Promise<void>, delayMs = 150): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running = false;
  let again = false;
  scope.add(() => clearTimeout(timer));
  const run = async (): Promise<void> => {
    if (scope.disposed) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      await load();
    } catch (e) {
      console.error('reload failed', e);
    } finally {
      running = false;
      if (again) {
        again = false;
        void run();
      }
    }
  };
  return () => {
    clearTimeout(timer);
    timer = setTimeout(() => void run(), delayMs);
  };
}
