import { eslintParser } from './eslint.ts';
import { flake8Parser } from './flake8.ts';
import type { LintParser } from './lint-parser.ts';
import { pylintParser } from './pylint.ts';
import { tscParser } from './tsc.ts';

export const LINT_FORMAT_NAMES = ['eslint', 'tsc', 'pylint', 'flake8'] as const;
export type LintFormat = (typeof LINT_FORMAT_NAMES)[number];
export const LINT_FORMATS: Readonly<Record<LintFormat, LintParser>> = {
  eslint: eslintParser,
  tsc: tscParser,
  pylint: pylintParser,
  flake8: flake8Parser,
};

export function lintParser(format: LintFormat | LintParser): LintParser {
  return typeof format === 'string' ? LINT_FORMATS[format] : format;
}
