/**
 * Domain events, published after the database write they describe. The API's live stream, metrics
 * and the request claimer listen here; nothing else couples the parts.
 */
import { EventEmitter } from 'node:events';
import type { Result } from '../../core/results.ts';

export interface DomainEvents {
  'buildrequest.new': { buildrequestid: number; builderid: number };
  'buildrequest.complete': { buildrequestid: number; results: Result };
  /** queuedMs: from the request's submission to the build's start; matrix: a matrix cell's axis values (master/config/matrix.ts). */
  'build.started': {
    buildid: number;
    builderid: number;
    number: number;
    agent: string;
    buildrequestid: number;
    queuedMs: number;
    matrix?: Readonly<Record<string, string>>;
  };
  'build.finished': { buildid: number; builderid: number; number: number; results: Result; durationMs: number };
  'step.started': { buildid: number; stepid: number; number: number; name: string };
  'step.finished': { buildid: number; builderid: number; stepid: number; name: string; results: Result; durationMs: number };
  'log.appended': { logid: number; stepid: number; stream: 'o' | 'e' | 'h'; data: Buffer; first_line: number };
  'agent.connected': { name: string };
  'agent.disconnected': { name: string };
  'agent.available': { name: string };
  'change.new': { changeid: number };
  /**
   * A change point was found (and stored) in a series a build measured: `confirmed` is false while
   * confirming reruns are pending. Emitted again with `confirmed: true` once it holds.
   */
  'changepoint.detected': ChangePointEvent;
  /** A reconfig took effect: what it added, removed and changed, by name (master/reconfig.ts). */
  'master.reconfigured': ReconfiguredEvent;
}

/** A stored change point, as the regression watcher publishes it (master/regressions). */
export interface ChangePointEvent {
  id: number;
  series: string;
  /** The tag combination the detector watched (builder, branch, step, …). */
  tags: Readonly<Record<string, string>>;
  builderid: number | null;
  branch: string | null;
  before: { buildid: number | null; revision: string | null };
  after: { buildid: number | null; revision: string | null };
  /** Relative change of the mean, in percent (signed). */
  magnitude: number;
  pValue: number;
  direction: 'better' | 'worse';
  confirmed: boolean;
  /** The build whose points revealed it. */
  detectedBy: number | null;
}

/** The names a reconfig added, removed and changed, per part of the config. */
export interface ReconfiguredEvent {
  builders: NamedChanges;
  agents: NamedChanges;
  schedulers: NamedChanges;
}
export interface NamedChanges {
  added: string[];
  removed: string[];
  changed: string[];
}
export type EventName = keyof DomainEvents;

export class EventBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(1000);
  }

  publish<K extends EventName>(name: K, payload: DomainEvents[K]): void {
    this.emitter.emit(name, payload);
  }

  subscribe<K extends EventName>(name: K, listener: (payload: DomainEvents[K]) => void): () => void {
    this.emitter.on(name, listener);
    return () => this.emitter.off(name, listener);
  }
}
