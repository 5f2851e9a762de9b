/**
 * What the bench (parent) and its load generators (children, fake-agents.ts) tell each other over the
 * IPC channel. A generator owns the agents `fa-<from>` … `fa-<to − 1>`.
 */

/** Agent i's name and token: derived, so the master's config and the generators agree without a list. */
export const fakeAgentName = (i: number): string => `fa-${i}`;
export const fakeAgentToken = (secret: string, i: number): string => `${secret}-${i}`;

export type ToGenerator =
  | {
      type: 'connect';
      url: string;
      from: number;
      to: number;
      secret: string;
      /** Run each command for real (`spawn`), or answer `run` with an immediate `exit` 0. */
      spawn: boolean;
      /** Most handshakes in flight at once; 0 for all at once. */
      concurrency: number;
    }
  /** Send the wall-clock times of the `run` frames received since the last `collect`. */
  | { type: 'collect' }
  | { type: 'stop' };

export interface GeneratorStats {
  /** Agents welcomed and still connected. */
  connected: number;
  /** Connections that closed or failed before their welcome. */
  dropped: number;
  /** Connections opened again after a drop or a loss. */
  retried: number;
  /** Connections closed after their welcome. */
  lost: number;
  /** Handshakes refused with `reject`, by code. */
  rejects: Record<string, number>;
  /** Wall-clock ms when all of this generator's agents were first connected at once; null until then. */
  allConnectedAt: number | null;
  runs: number;
}

export type FromGenerator =
  | { type: 'ready' }
  | { type: 'stats'; stats: GeneratorStats }
  | { type: 'runs'; at: number[]; stats: GeneratorStats }
  | { type: 'error'; message: string };
