import { lineParser } from './lint-parser.ts';

const PLAIN = /^(.+)\((\d+),(\d+)\): (error|warning) (TS\d+): (.*)$/;
const PRETTY = /^(.+):(\d+):(\d+) - (error|warning) (TS\d+): (.*)$/;

/** `tsc --noEmit` (plain or --pretty): `file(line,col): error TSnnnn: message`; indented lines continue a message. */
export const tscParser = lineParser('tsc', (line) => {
  const m = PLAIN.exec(line) ?? PRETTY.exec(line);
  if (m) return { severity: m[4] === 'error' ? 'error' : 'warning', file: m[1] as string, line: Number(m[2]), message: `${m[5]}: ${m[6]}` };
  if (/^\s/.test(line) || /^Found \d+ errors?/.test(line) || /^error TS\d+:/.test(line)) {
    return /^error TS\d+:/.test(line) ? { severity: 'error', file: '', line: null, message: line } : 'ignore';
  }
  return null;
});
