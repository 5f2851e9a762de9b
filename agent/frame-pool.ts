/**
 * Reused buffers for the agent's binary output frames (protocol/output-frame.ts).
 *
 * A frame lives until the master acks it (it is sent again after a reconnect), which is long enough
 * for V8 to move it to its old generation: a fresh buffer per frame became garbage that only a full
 * collection frees, and a 50 MiB log left tens of MiB of dead frames in malloc's heap, kept for good
 * (output-reclaim.ts says why that makes every later spawn dearer). Frames of 16 KiB and more are
 * written into slabs of a few power-of-two sizes instead, given back once the frame is acked and
 * the socket is done with it, and taken again by the next frames. Smaller frames (a quiet command's
 * lines) are allocated as before: a slab for each would waste more than it saves.
 *
 * Bounded: slabs in use and free together never exceed `maxBytes` (past it a frame is allocated as
 * before); free slabs are dropped after `idleMs` without a frame, so an idle agent holds none.
 */
import { MAX_OUTPUT_CHUNK } from '../protocol/messages.ts';

/** The smallest frame written into a slab. */
export const MIN_POOLED_FRAME = 16 * 1024;
/** A frame's header with the longest run id (protocol/output-frame.ts: 9 bytes and up to 255). */
const MAX_HEADER_BYTES = 9 + 255;
/** The largest frame: the top slab size. */
const MAX_FRAME = MAX_OUTPUT_CHUNK + MAX_HEADER_BYTES;

/** The slab size a frame of `bytes` goes into: the power of two at or above it, or the largest frame. */
function slabSize(bytes: number): number {
  const power = 2 ** Math.ceil(Math.log2(bytes));
  return Math.min(power, MAX_FRAME);
}

/** One frame's buffer, from a slab or not; the slab goes back when both the runner and the socket are done. */
export class FrameLease {
  private sends = 0;
  private held = true;

  constructor(
    /** The frame's bytes: a view of exactly its length (into the slab, if any). */
    readonly frame: Buffer,
    private readonly slab: Buffer | null,
    private readonly pool: FramePool | null,
  ) {}

  /** A send of the frame starts; the function returned is called once the socket no longer reads it. */
  sending(): () => void {
    this.sends++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.sends--;
      this.giveBack();
    };
  }

  /** The runner no longer needs the frame (acked, or the run is gone). */
  release(): void {
    this.held = false;
    this.giveBack();
  }

  private giveBack(): void {
    if (this.held || this.sends > 0 || !this.slab || !this.pool) return;
    this.pool.give(this.slab);
  }
}

export class FramePool {
  /** Free slabs by size. */
  private readonly free = new Map<number, Buffer[]>();
  /** Bytes of every slab this pool made and has not dropped, in use or free. */
  private bytes = 0;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly maxBytes: number,
    private readonly idleMs = 5_000,
  ) {}

  /** Slab bytes held, in use and free (tests, the agent's figures). */
  get heldBytes(): number {
    return this.bytes;
  }

  /** A buffer for a frame of `bytes`: a view into a slab when the frame is big enough and the pool has room. */
  take(bytes: number): FrameLease {
    if (bytes < MIN_POOLED_FRAME || bytes > MAX_FRAME) return new FrameLease(Buffer.allocUnsafe(bytes), null, null);
    this.armIdle();
    const size = slabSize(bytes);
    let slab = this.free.get(size)?.pop();
    if (!slab) {
      if (this.bytes + size > this.maxBytes) return new FrameLease(Buffer.allocUnsafe(bytes), null, null);
      // Slow: a buffer of its own, never a slice of Node's shared pool.
      slab = Buffer.allocUnsafeSlow(size);
      this.bytes += size;
    }
    return new FrameLease(slab.subarray(0, bytes), slab, this);
  }

  /** A slab comes back, free for the next frame. */
  give(slab: Buffer): void {
    const list = this.free.get(slab.length);
    if (list) list.push(slab);
    else this.free.set(slab.length, [slab]);
    this.armIdle();
  }

  /** Drops every free slab (V8 frees them with the next collection of its old generation). */
  trim(): void {
    for (const list of this.free.values()) for (const slab of list.splice(0)) this.bytes -= slab.length;
  }

  private armIdle(): void {
    if (this.idleTimer) this.idleTimer.refresh();
    else {
      this.idleTimer = setTimeout(() => {
        this.idleTimer = null;
        this.trim();
      }, this.idleMs);
      this.idleTimer.unref();
    }
  }
}
