import type { LintIssue, LintParser } from './lint-parser.ts';

export interface RegexParserOptions {
  /** Matches one issue per line; named groups `file`, `line`, `severity`, `message` are used when present. */
  pattern: RegExp;
  /** Which `severity` group values are errors (default /^(error|fatal|e)$/i); everything else is a warning. */
  errorSeverity?: RegExp;
}

/** For any linter: lines matching `pattern` are issues, other lines are ignored. */
export function regexParser(options: RegexParserOptions): LintParser {
  // Own copies without g/y: a caller's global regex would carry lastIndex from line to line.
  const plain = (r: RegExp) => new RegExp(r.source, r.flags.replace(/[gy]/g, ''));
  const pattern = plain(options.pattern);
  const isError = plain(options.errorSeverity ?? /^(error|fatal|e)$/i);
  return {
    name: 'regex',
    parse(stdout) {
      const issues: LintIssue[] = [];
      for (const line of stdout.split(/\r?\n/)) {
        const m = pattern.exec(line);
        if (!m) continue;
        const g = m.groups ?? {};
        issues.push({
          severity: g.severity !== undefined && isError.test(g.severity) ? 'error' : 'warning',
          file: g.file ?? '',
          line: g.line !== undefined ? Number(g.line) : null,
          message: g.message ?? line,
        });
      }
      return { ok: true, issues };
    },
  };
}
