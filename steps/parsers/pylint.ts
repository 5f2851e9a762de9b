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
        const [, file = '', lineNumber, , category, number, message] = m; // every group takes part in a match
        return {
          severity: category === 'E' || category === 'F' ? 'error' : 'warning',
          file,
          line: Number(lineNumber),
          message: `${category}${number}: ${message}`,
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
