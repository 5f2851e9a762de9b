/** Turns a linter's output into counted issues; an output it cannot read is an error naming the line. */
export interface LintIssue {
  severity: 'error' | 'warning';
  file: string;
  line: number | null;
  message: string;
}

export type LintParse = { ok: true; issues: LintIssue[] } | { ok: false; error: string };

export interface LintParser {
  readonly name: string;
  parse(stdout: string): LintParse;
}

const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;

/** Parses line by line (colour codes removed): each line is an issue, ignorable, or (an error) not understood. */
export function lineParser(name: string, read: (line: string) => LintIssue | 'ignore' | null): LintParser {
  return {
    name,
    parse(stdout) {
      const issues: LintIssue[] = [];
      const lines = stdout.split(/\r?\n/);
      for (const [i, raw] of lines.entries()) {
        const line = raw.replace(ANSI, '');
        if (line.trim() === '') continue;
        const r = read(line);
        if (r === null)
          return { ok: false, error: `${name} output line ${i + 1} is not in the expected format: ${JSON.stringify(line.slice(0, 200))}` };
        if (r !== 'ignore') issues.push(r);
      }
      return { ok: true, issues };
    },
  };
}
