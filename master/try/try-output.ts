/**
 * What `caliper try` prints: a header per step, the commands' output as it comes (stdout to stdout,
 * stderr to stderr), each step's result line, the measured values, and a summary. Written to a
 * `Terminal` (the process's streams by default; tests pass their own).
 */
import { resultName, type Result } from '../../core/results.ts';

export interface Terminal {
  out(text: string): void;
  err(text: string): void;
}

export const processTerminal: Terminal = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

/** A value a step measured (MeasureShellCommand, Lint), as the master would have captured it. */
export interface Measured {
  step: string;
  name: string;
  value: number;
  unit?: string;
}

export interface StepSummary {
  name: string;
  result: Result;
  stateString: string;
  durationMs: number;
  hidden: boolean;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;

export class TryOutput {
  /** Whether the last text written ended a line, so a header never starts mid-line. */
  private atLineStart = true;

  constructor(private readonly terminal: Terminal = processTerminal) {}

  line(text: string): void {
    this.write('out', `${this.atLineStart ? '' : '\n'}${text}\n`);
  }

  /** A command's output, as it comes. */
  write(stream: 'out' | 'err', text: string): void {
    if (text === '') return;
    this.terminal[stream](text);
    this.atLineStart = text.endsWith('\n');
  }

  buildStarted(builder: string, steps: number, workdir: string): void {
    this.line(`caliper try: builder "${builder}", ${steps} step${steps === 1 ? '' : 's'}, in ${workdir}`);
  }

  stepStarted(number: number, total: number, name: string): void {
    this.line(`\n── step ${number}/${total}: ${name} ${'─'.repeat(Math.max(3, 60 - name.length))}`);
  }

  stepSkipped(number: number, total: number, name: string, why: string): void {
    this.line(`\n── step ${number}/${total}: ${name}: not run (${why})`);
  }

  command(text: string): void {
    this.line(`$ ${text}`);
  }

  measured(m: Measured): void {
    this.line(`measured ${m.name} = ${m.value}${m.unit ? ` ${m.unit}` : ''}`);
  }

  stepFinished(s: StepSummary): void {
    this.line(`── ${s.name}: ${resultName(s.result) ?? s.result}${s.stateString ? ` (${s.stateString})` : ''} in ${seconds(s.durationMs)}`);
  }

  summary(
    builder: string,
    result: Result,
    stateString: string,
    steps: StepSummary[],
    measured: Measured[],
    /** name, value as JSON, source (the step that set it). */
    properties: [string, string, string][],
  ): void {
    this.line(`\n══ summary of ${builder} ${'═'.repeat(40)}`);
    const width = Math.max(4, ...steps.map((s) => s.name.length));
    for (const s of steps.filter((x) => !x.hidden)) {
      const name = resultName(s.result) ?? String(s.result);
      this.line(`  ${name.padEnd(9)} ${s.name.padEnd(width)} ${seconds(s.durationMs).padStart(7)}  ${s.stateString}`);
    }
    if (measured.length > 0) {
      this.line('measured values:');
      for (const m of measured) this.line(`  ${m.name} = ${m.value}${m.unit ? ` ${m.unit}` : ''}  (step ${m.step})`);
    }
    if (properties.length > 0) {
      this.line('properties set by steps:');
      for (const [name, value, source] of properties) this.line(`  ${name} = ${value}  (${source})`);
    }
    this.line(`result: ${resultName(result) ?? result} (${stateString})`);
  }
}
