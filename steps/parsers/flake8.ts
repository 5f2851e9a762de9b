import { lineParser } from './lint-parser.ts';

const ISSUE = /^(.+?):(\d+):(\d+): ([A-Z]+\d+) (.*)$/;

/** flake8's default format `path:line:col: CODE message`; E and F codes are errors, the rest (W, C, …) warnings. */
export const flake8Parser = lineParser('flake8', (line) => {
  const m = ISSUE.exec(line);
  if (!m) return /^\d+$/.test(line) ? 'ignore' : null; // --count prints the total on its own line
  const [, file = '', lineNumber, , code = '', message] = m; // every group takes part in a match
  return {
    severity: code.startsWith('E') || code.startsWith('F') ? 'error' : 'warning',
    file,
    line: Number(lineNumber),
    message: `${code} ${message}`,
  };
});
