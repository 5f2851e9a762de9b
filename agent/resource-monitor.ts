/**
 * The CPU time and peak memory of each command's whole process tree, on Linux (/proc): what the
 * agent reports with the command's `exit` (docs/agent-protocol.md, "Resources").
 *
 * CPU, exact and nearly free: when a process ends and its parent waits for it, the kernel adds its
 * CPU time (with that of the children it waited for) to the parent's `cutime`/`cstime`. A command's
 * main process is the agent's child, so when the agent reaps it, the agent's own `cutime + cstime`
 * grows by the command's whole waited-for tree (a shell and everything it ran), to the 10 ms tick.
 * Node reaps children in batches and reports their exits one after another in the same loop turn,
 * so the growth is read once per turn (setImmediate) and shared among the commands that ended in it:
 * normally one, and then it is exact; several, in proportion to their last sampled CPU. Processes a
 * command left running without waiting for them (a background job, an orphan) never reach the
 * agent's counters: they are read on their own, by the samples, and once more as the main process
 * exits (the agent then kills them). The ticks these add cover their life until that last read.
 *
 * Memory: the largest sum of the resident set sizes of the command's process group seen in one
 * sample. A sample reads `/proc/PID/stat` of every process (one scan shared by every command), the
 * first once a command is FIRST_SAMPLE_MS old, then every MIN_INTERVAL_MS or slower: the interval
 * grows with the scan's own CPU cost so that sampling takes at most SAMPLING_BUDGET of one core (a
 * machine with thousands of processes makes each scan dearer). Hence pages shared between the
 * processes count once per process (as `ps` adds them up), a peak shorter than the interval can be
 * missed, and a command shorter than FIRST_SAMPLE_MS has no memory figure and costs no scan.
 * Why not getrusage(RUSAGE_CHILDREN)'s ru_maxrss: it is the largest *single* process, where a build
 * step's memory is that of its processes together (a test runner and its workers); and Node cannot
 * call it for one child anyway.
 *
 * A command meter's states: sampling -> exited -> settled.
 * sampling: in every scan (once old enough). exited: its main process was reaped; the agent's
 * counters are read at the end of the loop turn. settled: `figures` resolved.
 */
import fs from 'node:fs';
import type { CommandResources } from '../protocol/messages.ts';
import type { ReapedCpu } from './process-launcher.ts';
import { CLOCK_TICKS_PER_SECOND, pageBytes, readProcStat, selfStatReader, type ProcStat } from './resource-proc.ts';

/** A command younger than this is not sampled: most commands of a build are shorter and cost nothing. */
export const FIRST_SAMPLE_MS = 50;
/** The shortest interval between two scans. */
export const MIN_INTERVAL_MS = 100;
/** The share of one core the scans may take: the interval is at least the last scan's CPU time over this. */
export const SAMPLING_BUDGET = 0.02;

const isPid = (name: string) => name.length > 0 && name.charCodeAt(0) >= 48 && name.charCodeAt(0) <= 57;
const seconds = (ticks: number) => Math.round((ticks / CLOCK_TICKS_PER_SECOND) * 1000) / 1000;

/** CPU ticks of one process, itself and its waited-for children. */
interface Ticks {
  user: number;
  system: number;
}
const ticksOf = (s: ProcStat): Ticks => ({ user: s.utime + s.cutime, system: s.stime + s.cstime });

/** One command's figures as they come in; made by ResourceMonitor.track(). */
export class CommandMeter {
  private state: 'sampling' | 'exited' | 'settled' = 'sampling';
  /** Pids of the group in the last sample, and those of the sample being taken. */
  private members = new Set<number>();
  private sample: ProcStat[] = [];
  /** Processes of the group whose parent left the group (or ended): their ticks, as last read. */
  private readonly orphans = new Map<number, Ticks>();
  private peakRssPages = 0;
  private sampled = false;
  /** The main process's own and waited-for CPU ticks at the last sample: its share of a shared reap. */
  lastTicks = 0;
  private settle!: (r: CommandResources) => void;
  /** Resolves once the main process was reaped and the counters read. */
  readonly figures = new Promise<CommandResources>((resolve) => (this.settle = resolve));

  constructor(
    private readonly monitor: ResourceMonitor,
    /** The main process, whose pid is the group's id. */
    readonly pid: number,
    readonly startedAt: number,
  ) {}

  get sampling(): boolean {
    return this.state === 'sampling';
  }

  /** A process of the group, read in the scan under way. */
  observe(stat: ProcStat): void {
    this.sample.push(stat);
  }

  /** The scan is over: the group's RSS at this moment, and who was left behind by their parent. */
  endSample(): void {
    const pids = new Set(this.sample.map((s) => s.pid));
    let rss = 0;
    for (const s of this.sample) {
      rss += s.rssPages;
      if (s.pid === this.pid) this.lastTicks = s.utime + s.stime + s.cutime + s.cstime;
      else if (!pids.has(s.ppid)) this.orphans.set(s.pid, ticksOf(s));
    }
    this.peakRssPages = Math.max(this.peakRssPages, rss);
    this.sampled = true;
    this.members = pids;
    this.sample = [];
  }

  /**
   * sampling -> exited. Call when the main process was reaped (the child's `exit` event), before
   * the rest of its group is killed: what is still running now was left behind, and is read once more.
   * `reaped`: the CPU of the main process's tree as the process that reaped it read it (the spawn
   * helper); absent, the agent reaped it and its own counters tell (settled at the loop turn's end).
   */
  exited(reaped: ReapedCpu | null = null): void {
    if (this.state !== 'sampling') throw new Error(`command ${this.pid}: exited() while ${this.state}`);
    this.state = 'exited';
    for (const pid of this.members) {
      if (pid === this.pid) continue;
      const s = readProcStat(pid);
      if (s && s.pgrp === this.pid) this.orphans.set(pid, ticksOf(s));
    }
    if (!reaped) return this.monitor.reaped(this);
    // Reaped by the spawn helper, which read its own counters for this process alone.
    this.monitor.forget(this);
    this.settled({ user: reaped.userSeconds * CLOCK_TICKS_PER_SECOND, system: reaped.systemSeconds * CLOCK_TICKS_PER_SECOND });
  }

  /** exited -> settled, with the ticks of the main process's tree the agent's counters gained. */
  settled(tree: Ticks): void {
    if (this.state !== 'exited') throw new Error(`command ${this.pid}: settled() while ${this.state}`);
    this.state = 'settled';
    let user = tree.user;
    let system = tree.system;
    for (const t of this.orphans.values()) {
      user += t.user;
      system += t.system;
    }
    this.settle({
      userSeconds: seconds(user),
      systemSeconds: seconds(system),
      ...(this.sampled ? { maxRssBytes: this.peakRssPages * pageBytes() } : {}),
    });
  }
}

/** One per agent: samples every running command's group, and shares out the agent's reaped-children times. */
export class ResourceMonitor {
  private readonly meters = new Set<CommandMeter>();
  private readonly reapedThisTurn: CommandMeter[] = [];
  private flushScheduled = false;
  private timer: NodeJS.Timeout | null = null;
  private intervalMs = MIN_INTERVAL_MS;
  /** The agent's own `cutime`/`cstime` at the last read. */
  private last: Ticks = { user: 0, system: 0 };

  /** Null where there is no /proc: commands are then not measured. */
  static create(): ResourceMonitor | null {
    const readSelf = selfStatReader();
    return readSelf ? new ResourceMonitor(readSelf) : null;
  }

  /**
   * The agent's counters are read only as commands end: what they gained since the last read is
   * the commands'. The agent's only other child, the orphan guard, lives as long as the agent.
   */
  private constructor(private readonly readSelf: () => ProcStat | null) {
    this.last = this.childTicks();
  }

  /** Starts measuring the command whose main process (and process group) is `pid`. */
  track(pid: number): CommandMeter {
    const meter = new CommandMeter(this, pid, performance.now());
    this.meters.add(meter);
    if (!this.timer) this.schedule(FIRST_SAMPLE_MS);
    return meter;
  }

  /** Stops sampling a command that will not be reaped through its meter (its spawn failed). */
  forget(meter: CommandMeter): void {
    this.meters.delete(meter);
  }

  /** A meter's main process was reaped: the counters are read once every exit of this turn is in. */
  reaped(meter: CommandMeter): void {
    this.meters.delete(meter);
    this.reapedThisTurn.push(meter);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    const now = this.childTicks();
    const gained = { user: Math.max(0, now.user - this.last.user), system: Math.max(0, now.system - this.last.system) };
    this.last = now;
    const ended = this.reapedThisTurn.splice(0);
    const weights = ended.map((m) => Math.max(m.lastTicks, 1));
    const total = weights.reduce((a, b) => a + b, 0);
    ended.forEach((m, i) => {
      const share = (weights[i] ?? 1) / total;
      m.settled({ user: gained.user * share, system: gained.system * share });
    });
  }

  /** A read that fails gives the last figures: the gain then waits for the next read, never jumps. */
  private childTicks(): Ticks {
    const self = this.readSelf();
    return self ? { user: self.cutime, system: self.cstime } : this.last;
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => this.tick(), ms);
    this.timer.unref();
  }

  private tick(): void {
    this.timer = null;
    if (this.meters.size === 0) return;
    const now = performance.now();
    const due = new Map<number, CommandMeter>();
    /** When the next command comes of age, if none is yet. */
    let soonest = FIRST_SAMPLE_MS;
    for (const m of this.meters) {
      const age = now - m.startedAt;
      if (age >= FIRST_SAMPLE_MS && m.sampling) due.set(m.pid, m);
      else soonest = Math.min(soonest, FIRST_SAMPLE_MS - age);
    }
    if (due.size === 0) return this.schedule(Math.max(1, soonest));
    const cpu = process.cpuUsage();
    this.scan(due);
    const spent = process.cpuUsage(cpu);
    this.intervalMs = Math.max(MIN_INTERVAL_MS, (spent.user + spent.system) / 1000 / SAMPLING_BUDGET);
    this.schedule(this.intervalMs);
  }

  /** One pass over /proc: each process of a due command's group goes to its meter. */
  private scan(due: Map<number, CommandMeter>): void {
    let entries: string[];
    try {
      entries = fs.readdirSync('/proc');
    } catch {
      return;
    }
    for (const name of entries) {
      if (!isPid(name)) continue;
      const stat = readProcStat(Number(name));
      if (stat) due.get(stat.pgrp)?.observe(stat);
    }
    for (const m of due.values()) m.endSample();
  }
}
