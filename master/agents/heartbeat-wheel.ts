/**
 * One timer for the heartbeats of every agent session, instead of one interval per session.
 *
 * Why: with an interval each, 10 000 agents connected at scattered moments make 1 000 timer
 * wake-ups a second, each followed by its agent's pong, another wake-up; at that size the master
 * spent 5-7 % of a core idle, most of it in the event loop going round for one frame at a time.
 * Here sessions sit in the slots of a wheel that turns every `periodMs / slots` ms (about 100 ms);
 * each turn beats the sessions of one slot, so each session still beats once per `periodMs`, the
 * pings of a turn leave together and their pongs come back together.
 *
 * States: idle (no session, no timer) -> turning (a session added; the timer runs) -> idle (the
 * last session removed; the timer stops). A session added joins the slot just visited: its first
 * beat is a period after that slot's last turn (up to one turn less than a period from now). The
 * turns keep to a schedule (the n-th turn at n × periodMs / slots after the wheel started), so a
 * period that is not a whole number of milliseconds per turn does not drift.
 */

export interface HeartbeatClient {
  /** Called once per period: check the peer's silence, ping it. */
  beat(): void;
}

/** Turns about this often; a period of under two turns gets one slot. */
const TURN_MS = 100;
/** At most this many slots (a long period turns less often instead). */
const MAX_SLOTS = 100;

export class HeartbeatWheel {
  private readonly slots: Set<HeartbeatClient>[];
  private readonly turnMs: number;
  private position = 0;
  private count = 0;
  private timer: NodeJS.Timeout | null = null;
  /** When the next turn is due (Date.now() ms), while turning. */
  private nextTurnAt = 0;

  constructor(readonly periodMs: number) {
    if (!(periodMs > 0)) throw new RangeError(`HeartbeatWheel: periodMs must be positive, got ${periodMs}`);
    const slots = Math.min(MAX_SLOTS, Math.max(1, Math.round(periodMs / TURN_MS)));
    this.slots = Array.from({ length: slots }, () => new Set());
    this.turnMs = periodMs / slots;
  }

  /** Beats `client` once per period, the first time about a period from now; the function returned takes it out. */
  add(client: HeartbeatClient): () => void {
    const slot = this.slots[this.position] as Set<HeartbeatClient>;
    slot.add(client);
    this.count++;
    if (!this.timer) {
      this.nextTurnAt = Date.now() + this.turnMs;
      this.schedule();
    }
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      slot.delete(client);
      if (--this.count === 0 && this.timer) {
        clearTimeout(this.timer);
        this.timer = null;
      }
    };
  }

  /** Sessions on the wheel (for tests and the master's own figures). */
  get size(): number {
    return this.count;
  }

  /** Not unref'd: like the interval each session had, it keeps the loop alive while sessions are open. */
  private schedule(): void {
    this.timer = setTimeout(() => this.turn(), Math.max(0, Math.round(this.nextTurnAt - Date.now())));
  }

  private turn(): void {
    this.nextTurnAt += this.turnMs;
    this.schedule();
    this.position = (this.position + 1) % this.slots.length;
    // A copy: a beat may remove its own session (a silent agent dropped) or, through a close, another.
    for (const client of [...(this.slots[this.position] as Set<HeartbeatClient>)]) client.beat();
  }
}
