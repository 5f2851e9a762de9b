import type { LintIssue, LintParser } from './lint-parser.ts';
import { lineParser } from './lint-parser.ts';

const ISSUE = /^(.+?):(\d+):(\d+): ([CRWEFI])(\d{4}): (.*)$/;
const FRAME = /^(\*+ Module |-+$|Your code has been rated)/;

/**
 * pylint's default text format; E and F messages are errors, C, R, W and I warnings. Some messages
 * span lines (R0801 duplicate-code lists the files and the duplicated source): after an issue, lines
 * that are not an issue or pylint's frame belong to it.
 */
export const pylintParser: LintParser = {
  name: 'pylint',
  parse(stdout) {
    let inMessage = false;
    return lineParser('pylint', (line): LintIssue | 'ignore' | null => {
      const m = ISSUE.exec(line);
      if (m) {
        inMessage = true;
        return {
          severity: m[4] === 'E' || m[4] === 'F' ? 'error' : 'warning',
          file: m[1] as string,
          line: Number(m[2]),
          message: `${m[4]}${m[5]}: ${m[6]}`,
        };
      }
      if (FRAME.test(line)) {
        inMessage = false;
        return 'ignore';
      }
      return inMessage ? 'ignore' : null;
    }).parse(stdout);
  },
};
