/**
 * Failed logins per peer address: after MAX_FAILED_LOGINS in a minute the address is refused for
 * the rest of that minute, as the agent handshake limit does for token guessing.
 */
export const MAX_FAILED_LOGINS = 10;
const WINDOW_MS = 60_000;
/** Bounded memory under a flood of addresses. */
const MAX_TRACKED = 10_000;

export class LoginLimiter {
  private readonly failures = new Map<string, { count: number; since: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** True when this address may try again now. */
  allows(peer: string): boolean {
    const record = this.current(peer);
    return record === undefined || record.count < MAX_FAILED_LOGINS;
  }

  failed(peer: string): void {
    const record = this.current(peer) ?? { count: 0, since: this.now() };
    record.count++;
    if (this.failures.size >= MAX_TRACKED) this.failures.clear();
    this.failures.set(peer, record);
  }

  private current(peer: string) {
    const record = this.failures.get(peer);
    if (record && this.now() - record.since > WINDOW_MS) {
      this.failures.delete(peer);
      return undefined;
    }
    return record;
  }
}
