import type { LintIssue, LintParser } from './lint-parser.ts';
import { isRecord } from '../../core/is-record.ts';

/** `eslint --format json`: an array of files with messages; severity 2 is an error, 1 a warning. */
export const eslintParser: LintParser = {
  name: 'eslint',
  parse(stdout) {
    // The command's output: every field is checked before it is read.
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
    const files: unknown[] = data;
    const issues: LintIssue[] = [];
    for (const file of files) {
      if (!isRecord(file) || typeof file.filePath !== 'string' || !Array.isArray(file.messages))
        return { ok: false, error: 'eslint JSON output: each entry needs filePath and messages' };
      const messages: unknown[] = file.messages;
      for (const m of messages) {
        if (!isRecord(m) || typeof m.message !== 'string')
          return { ok: false, error: `eslint JSON output: a message of ${file.filePath} has no text` };
        issues.push({
          severity: m.severity === 2 ? 'error' : 'warning',
          file: file.filePath,
          line: typeof m.line === 'number' ? m.line : null,
          message: `${m.message}${typeof m.ruleId === 'string' && m.ruleId ? ` (${m.ruleId})` : ''}`,
        });
      }
    }
    return { ok: true, issues };
  },
};
