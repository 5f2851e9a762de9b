/**
 * A step's logs: its rows as the build hands them over (possibly still landing with the previous
 * step's end, see StepRows in step-runtime.ts), the log stored with its start, and a LogWriter per
 * log name, made on first use. StepRuntime decides what may be written when; this holds the logs.
 */
import type { Repositories } from '../db/repositories.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { LogRow, StepRow } from '../db/entities.ts';
import type { FirstLog, StartedStep } from '../db/build-progress.ts';
import { slugify } from '../db/logs.ts';
import { writeThroughOutage } from '../db/outage-write.ts';
import { LogWriter } from './log-writer.ts';

export class StepLogs {
  /** The step's logs by name, made on first use. */
  private readonly writers = new Map<string, LogWriter>();
  /** The step's row, once stored. */
  private readonly row: Promise<StepRow>;
  /** The log stored with the step's start (once stored): the step's first log of that name and type is this row. */
  private premade: LogRow | null = null;
  /** The log stored with the step's start, by name and type, until the step opens it or another log. */
  private coming: FirstLog | null;

  constructor(
    private readonly deps: { repos: Repositories; bus: EventBus; logMaxBytes: number },
    firstLog: FirstLog | null,
    landed: Promise<StartedStep>,
  ) {
    this.coming = firstLog;
    this.row = landed.then(({ row, log }) => {
      this.premade = log;
      return row;
    });
    this.row.catch(() => {}); // the build awaits `landed` itself and fails with its error
  }

  /** The step's row id, once stored. */
  async stepId(): Promise<number> {
    return (await this.row).id;
  }

  /** Whether `name` is the log stored with the step's start, not opened yet: its row comes with the step's. */
  comesWithStep(name: string, type: 's' | 't'): boolean {
    return this.coming?.name === name && this.coming.type === type;
  }

  /** The writer of log `name`, its row made (or taken from the step's start) on first use. */
  async open(name: string, type: 's' | 't'): Promise<LogWriter> {
    let w = this.writers.get(name);
    if (!w) {
      const row = await this.newLog(name, type);
      w = new LogWriter(row, this.deps.repos.logs, this.deps.bus, { chunkBytes: 256 * 1024, maxBytes: this.deps.logMaxBytes });
      this.writers.set(name, w);
    }
    return w;
  }

  /** Whether log `name` has a writer already. */
  has(name: string): boolean {
    return this.writers.has(name);
  }

  /** Waits until every open log's bytes are stored (rejects when some could not be); their rows. */
  async storeOpen(): Promise<LogRow[]> {
    const open = [...this.writers.values()].filter((w) => !w.log.complete);
    for (const w of open) await allStored(w);
    return open.map((w) => w.log);
  }

  /** The log stored with the step's start that the step never wrote to (its end removes it), or null. */
  unused(): number | null {
    return this.premade?.id ?? null;
  }

  /** A new log's row: the one stored with the step's start when it is the one asked for, else created now. */
  private async newLog(name: string, type: 's' | 't'): Promise<LogRow> {
    this.coming = null;
    const stepid = await this.stepId();
    const premade = this.premade;
    if (premade && premade.name === name && premade.type === type) {
      this.premade = null;
      return premade;
    }
    // Another log of its slug (the unique key) would be refused while the unused one is there.
    if (premade && premade.slug === slugify(name)) {
      this.premade = null;
      await writeThroughOutage(() => this.deps.repos.progress.dropUnused(premade.id));
    }
    // Through a database blink; a create whose answer was lost is found, not made twice.
    const { logs } = this.deps.repos;
    return writeThroughOutage(() => logs.create(stepid, name, type), { landed: () => logs.created(stepid, name) });
  }
}

/**
 * Resolves once everything appended to `writer` is stored; rejects with the write's error when one
 * failed. LogWriter.finish() would also close the log in a statement of its own: the build closes
 * it with the step's end instead. LogWriter keeps its failure to itself, but an empty append
 * rejects with it (and otherwise writes nothing).
 */
async function allStored(writer: LogWriter): Promise<void> {
  await writer.flush();
  await writer.append('h', Buffer.alloc(0));
}
