import type { LintIssue, LintParser } from './lint-parser.ts';

interface EslintResult {
  filePath: string;
  messages: { severity: number; line?: number; message: string; ruleId?: string | null }[];
}

/** `eslint --format json`: an array of files with messages; severity 2 is an error, 1 a warning. */
export const eslintParser: LintParser = {
  name: 'eslint',
  parse(stdout) {
    let data: unknown;
    try {
      data = JSON.parse(stdout);
    } catch {
      const first = stdout.split('\n').find((l) => l.trim() !== '') ?? '';
      return {
        ok: false,
        error: `eslint output is not JSON (run eslint with --format json); first line: ${JSON.stringify(first.slice(0, 200))}`,
      };
    }
    if (!Array.isArray(data)) return { ok: false, error: 'eslint JSON output must be an array of file results' };
    const issues: LintIssue[] = [];
    for (const file of data as EslintResult[]) {
      if (typeof file?.filePath !== 'string' || !Array.isArray(file.messages))
        return { ok: false, error: 'eslint JSON output: each entry needs filePath and messages' };
      for (const m of file.messages) {
        if (typeof m !== 'object' || m === null || typeof m.message !== 'string')
          return { ok: false, error: `eslint JSON output: a message of ${file.filePath} has no text` };
        issues.push({
          severity: m.severity === 2 ? 'error' : 'warning',
          file: file.filePath,
          line: m.line ?? null,
          message: `${m.message}${m.ruleId ? ` (${m.ruleId})` : ''}`,
        });
      }
    }
    return { ok: true, issues };
  },
};
