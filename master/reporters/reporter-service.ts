/**
 * Listens to build events and turns each into deliveries in the outbox: a `BuildReport` snapshot,
 * then one row per reporter that wants it. Events are handled one at a time in the order they came,
 * so a build's rows are numbered in the order its events happened. Nothing here is awaited by the
 * build: the bus's listeners only queue work, and an error (a report that cannot be read, a database
 * away for longer than the outage write rides out) is logged, never thrown into the bus.
 *
 * States: created -> listening (start) -> stopped (stop: no new events; those queued are stored first).
 */
import type { EventBus } from '../events/event-bus.ts';
import type { Logger } from '../../core/logger.ts';
import { errorMessage } from '../../core/error-message.ts';
import type { BuildReport, RegressionItem, Reporter } from './reporter.ts';
import type { ReportEvent } from './build-report.ts';
import type { Outbox } from './outbox.ts';

export interface ReporterServiceDeps {
  bus: Pick<EventBus, 'subscribe'>;
  reporters: readonly Reporter[];
  outbox: Pick<Outbox, 'enqueue'>;
  /** Snapshots the report of an event (build-report.ts's buildReport with its sources bound). */
  report: (event: ReportEvent) => Promise<BuildReport | null>;
  log: Logger;
}

type State = 'created' | 'listening' | 'stopped';

export class ReporterService {
  private state: State = 'created';
  private unsubscribe: (() => void)[] = [];
  /** The events being handled, one after another. */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly deps: ReporterServiceDeps) {}

  start(): void {
    if (this.state !== 'created') throw new Error(`reporter service: cannot start while ${this.state}`);
    this.state = 'listening';
    if (this.deps.reporters.length === 0) return;
    const { bus } = this.deps;
    this.unsubscribe = [
      bus.subscribe('build.started', (e) => this.handle({ kind: 'build.started', buildid: e.buildid })),
      bus.subscribe('step.finished', (e) => this.handle({ kind: 'step.finished', buildid: e.buildid, stepid: e.stepid })),
      bus.subscribe('build.finished', (e) => this.handle({ kind: 'build.finished', buildid: e.buildid })),
    ];
  }

  /** After the builds drained: their last events are stored before this returns. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    for (const off of this.unsubscribe) off();
    await this.queue;
  }

  /**
   * The grouped alert of a build's confirmed worse change points (master/regressions): one report,
   * queued behind the build's own events, for the reporters that opted in (`regressions: true`).
   * Resolves once it is stored in the outbox.
   */
  regressed(buildid: number, regressions: RegressionItem[]): Promise<void> {
    if (this.state === 'stopped' || this.deps.reporters.length === 0) return Promise.resolve();
    this.handle({ kind: 'build.regressed', buildid, regressions });
    return this.queue;
  }

  private handle(event: ReportEvent): void {
    this.queue = this.queue.then(() =>
      this.enqueue(event).catch((e: unknown) =>
        this.deps.log.error('reporters: storing a report failed', { event: event.kind, build: event.buildid, error: errorMessage(e) }),
      ),
    );
  }

  private async enqueue(event: ReportEvent): Promise<void> {
    const report = await this.deps.report(event);
    if (!report) return;
    const wanting = this.deps.reporters.filter((r) => {
      try {
        return r.wants(report);
      } catch (e) {
        this.deps.log.error('reporter: wants() failed', { reporter: r.name, error: errorMessage(e) });
        return false;
      }
    });
    await this.deps.outbox.enqueue(
      event.buildid,
      wanting.map((r) => ({ reporter: r.name, report })),
    );
  }
}
