import { lineParser } from './lint-parser.ts';

const PLAIN = /^(.+)\((\d+),(\d+)\): (error|warning) (TS\d+): (.*)$/;
const PRETTY = /^(.+):(\d+):(\d+) - (error|warning) (TS\d+): ?(.*)$/;

/**
 * `tsc --noEmit`, plain (`file(line,col): error TSnnnn: message`) or --pretty (`file:line:col - error
 * TSnnnn: message`, with code excerpts and an Errors/Files table). Indented lines continue a message.
 */
export const tscParser = lineParser('tsc', (line) => {
  const m = PLAIN.exec(line) ?? PRETTY.exec(line);
  if (m) {
    const [, file = '', lineNumber, , severity, code, message] = m; // every group takes part in a match
    return { severity: severity === 'error' ? 'error' : 'warning', file, line: Number(lineNumber), message: `${code}: ${message}` };
  }
  if (/^error TS\d+:/.test(line)) return { severity: 'error', file: '', line: null, message: line };
  // Continuations, --pretty's numbered code excerpts, the summary and its Errors/Files table.
  if (/^\s/.test(line) || /^\d+ /.test(line) || /^Found \d+ errors?/.test(line) || /^Errors\s+Files$/.test(line)) return 'ignore';
  return null;
});
