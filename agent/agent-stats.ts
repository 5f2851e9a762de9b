/**
 * What the agent counts about itself, for `caliper agent --metrics-server` (metrics-server.ts reads
 * these when scraped). Plain numbers: counting costs next to nothing when nobody scrapes, and the
 * agent itself never loads the metrics library.
 */
import type { ExitMessage } from './command-runner.ts';

/** How a command ended, as the `exit` label of `caliper_agent_commands_total`. */
export type ExitClass = 'zero' | 'nonzero' | 'signal' | 'not_started';
/** Why the agent killed it (the protocol's `killed`), or `no`. */
export type KilledLabel = NonNullable<ExitMessage['killed']> | 'no';

export function exitClass(exit: Pick<ExitMessage, 'code' | 'signal'>): ExitClass {
  if (exit.code === 0) return 'zero';
  if (exit.code !== null) return 'nonzero';
  return exit.signal !== null ? 'signal' : 'not_started';
}

export class AgentStats {
  commandsStarted = 0;
  /** Commands ended, by how and whether the agent killed them. */
  readonly commandsEnded = new Map<`${ExitClass}/${KilledLabel}`, number>();
  private ended = 0;
  /** CPU seconds (user + system) of the commands' process trees, where measured. */
  commandCpuSeconds = 0;
  /** Connection attempts after the first (each after a drop or a failed attempt). */
  reconnects = 0;
  /** Frames and their bytes (UTF-8 JSON text) sent to the master. */
  framesSent = 0;
  bytesSent = 0;

  get commandsRunning(): number {
    return this.commandsStarted - this.ended;
  }

  commandEnded(exit: ExitMessage): void {
    const key = `${exitClass(exit)}/${exit.killed ?? 'no'}` as const;
    this.commandsEnded.set(key, (this.commandsEnded.get(key) ?? 0) + 1);
    this.ended++;
    if (exit.resources) this.commandCpuSeconds += exit.resources.userSeconds + exit.resources.systemSeconds;
  }

  sent(bytes: number): void {
    this.framesSent++;
    this.bytesSent += bytes;
  }
}
