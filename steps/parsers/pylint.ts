import { lineParser } from './lint-parser.ts';

const ISSUE = /^(.+?):(\d+):(\d+): ([CRWEFI])(\d{4}): (.*)$/;

/** pylint's default text format; E and F messages are errors, C, R, W and I warnings. */
export const pylintParser = lineParser('pylint', (line) => {
  const m = ISSUE.exec(line);
  if (m) return { severity: m[4] === 'E' || m[4] === 'F' ? 'error' : 'warning', file: m[1] as string, line: Number(m[2]), message: `${m[4]}${m[5]}: ${m[6]}` };
  if (/^\*+ Module /.test(line) || /^-+$/.test(line) || /^Your code has been rated/.test(line)) return 'ignore';
  return null;
});
