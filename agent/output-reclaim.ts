/**
 * Gives a big output's read buffers back to malloc while the output runs, not tens of MiB later.
 *
 * Each read of a command's pipe is a fresh buffer of up to 64 KiB that Node mallocs outside V8's
 * heap (about 3000 of them for a 50 MiB log). The runner drops each one within a turn of the event
 * loop, but its memory is freed only when V8 collects the small object holding it, and the agent
 * makes so little JavaScript garbage that V8 collected a handful of times in a whole 50 MiB log:
 * 20–40 MiB of dead buffers piled up in malloc's heap, which glibc cannot give back once anything
 * small sits above them. The agent kept that memory for good, and fork() copies the page tables of
 * every page it holds: each later step's spawn cost twice as much (docs/performance.md, "The agent").
 *
 * A young-generation collection (a scavenge, about 0.1 ms with the agent's small young heap) after
 * every RECLAIM_EVERY_BYTES read frees those buffers while they are still young, so malloc reuses
 * the same few instead of growing. V8 gives `gc()` only to contexts made once `--expose-gc` is
 * set; `caliper agent` sets it at start (it cannot pass V8 flags to its own `node`) and takes the
 * function from a fresh context. Without it (another V8) the agent works as before.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

/** Output read between two collections: the dead buffers malloc holds at most, about. */
export const RECLAIM_EVERY_BYTES = 1024 * 1024;

/** Counts the bytes read from commands' pipes and collects V8's young generation every `everyBytes`. */
export class OutputReclaimer {
  private readSince = 0;
  /** Collections made so far (tests and the agent's own figures). */
  collections = 0;

  constructor(
    private readonly collectYoung: () => void,
    private readonly everyBytes = RECLAIM_EVERY_BYTES,
  ) {}

  /**
   * A reclaimer for this process, or null when V8 will not expose `gc()`. Sets `--expose-gc` for the
   * whole process: only the agent program (agent/main.ts) calls it, never a master or a test process.
   */
  static create(everyBytes = RECLAIM_EVERY_BYTES): OutputReclaimer | null {
    try {
      v8.setFlagsFromString('--expose-gc');
      const gc: unknown = vm.runInNewContext('gc');
      if (typeof gc !== 'function') return null;
      return new OutputReclaimer(() => gc({ type: 'minor' }), everyBytes);
    } catch {
      return null;
    }
  }

  /** `bytes` more were read from a command's pipe. */
  read(bytes: number): void {
    this.readSince += bytes;
    if (this.readSince < this.everyBytes) return;
    this.readSince = 0;
    this.collections++;
    this.collectYoung();
  }
}
