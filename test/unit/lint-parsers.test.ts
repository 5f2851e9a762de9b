/**
 * Lint output parsers, fed what the real tools print. The fixtures were captured from eslint 9
 * (`--format json`), tsc 5.9 (`--noEmit`, piped and with `--pretty`), pylint 4 and flake8 7.
 */
import { describe, expect, it } from 'vitest';
import { eslintParser } from '../../steps/parsers/eslint.ts';
import { flake8Parser } from '../../steps/parsers/flake8.ts';
import { LINT_FORMATS, lintParser } from '../../steps/parsers/index.ts';
import type { LintIssue, LintParse, LintParser } from '../../steps/parsers/lint-parser.ts';
import { pylintParser } from '../../steps/parsers/pylint.ts';
import { regexParser } from '../../steps/parsers/regex.ts';
import { tscParser } from '../../steps/parsers/tsc.ts';

function issuesOf(parsed: LintParse): LintIssue[] {
  if (!parsed.ok) throw new Error(`expected a parse, got error: ${parsed.error}`);
  return parsed.issues;
}

function errorOf(parsed: LintParse): string {
  if (parsed.ok) throw new Error(`expected an error, got ${parsed.issues.length} issues`);
  return parsed.error;
}

function count(issues: LintIssue[]): { errors: number; warnings: number } {
  const errors = issues.filter((i) => i.severity === 'error').length;
  return { errors, warnings: issues.length - errors };
}

// `eslint --no-config-lookup --rule ... --format json a.js b.js c.js ign.js`, as eslint prints it
// (its json formatter is JSON.stringify of these results, on one line).
const ESLINT_RESULTS = [
  {
    filePath: '/src/app/a.js',
    messages: [
      {
        ruleId: 'no-var',
        severity: 2,
        message: 'Unexpected var, use let or const instead.',
        line: 1,
        column: 1,
        nodeType: 'VariableDeclaration',
        messageId: 'unexpectedVar',
        endLine: 1,
        endColumn: 16,
        fix: { range: [0, 3], text: 'let' },
      },
      {
        ruleId: 'no-unused-vars',
        severity: 1,
        message: "'unused' is assigned a value but never used.",
        line: 1,
        column: 5,
        nodeType: 'Identifier',
        messageId: 'unusedVar',
        endLine: 1,
        endColumn: 11,
        suggestions: [
          {
            messageId: 'removeVar',
            data: { varName: 'unused' },
            fix: { range: [0, 15], text: '' },
            desc: "Remove unused variable 'unused'.",
          },
        ],
      },
      {
        ruleId: 'no-undef',
        severity: 2,
        message: "'x' is not defined.",
        line: 2,
        column: 5,
        nodeType: 'Identifier',
        messageId: 'undef',
        endLine: 2,
        endColumn: 6,
      },
      {
        ruleId: 'eqeqeq',
        severity: 2,
        message: "Expected '===' and instead saw '=='.",
        line: 2,
        column: 7,
        nodeType: 'BinaryExpression',
        messageId: 'unexpected',
        endLine: 2,
        endColumn: 9,
      },
      {
        ruleId: 'no-debugger',
        severity: 1,
        message: "Unexpected 'debugger' statement.",
        line: 2,
        column: 15,
        nodeType: 'DebuggerStatement',
        messageId: 'unexpected',
        endLine: 2,
        endColumn: 24,
      },
    ],
    suppressedMessages: [],
    errorCount: 3,
    fatalErrorCount: 0,
    warningCount: 2,
    fixableErrorCount: 1,
    fixableWarningCount: 0,
    source: 'var unused = 1;\nif (x == 2) { debugger; }\n',
    usedDeprecatedRules: [],
  },
  {
    filePath: '/src/app/b.js',
    messages: [],
    suppressedMessages: [],
    errorCount: 0,
    fatalErrorCount: 0,
    warningCount: 0,
    fixableErrorCount: 0,
    fixableWarningCount: 0,
    usedDeprecatedRules: [],
  },
  {
    filePath: '/src/app/c.js',
    messages: [
      { ruleId: null, nodeType: null, fatal: true, severity: 2, message: 'Parsing error: Unexpected token =', line: 1, column: 7 },
    ],
    suppressedMessages: [],
    errorCount: 1,
    fatalErrorCount: 1,
    warningCount: 0,
    fixableErrorCount: 0,
    fixableWarningCount: 0,
    source: 'const = ;\n',
    usedDeprecatedRules: [],
  },
  {
    filePath: '/src/app/ign.js',
    messages: [
      {
        ruleId: null,
        fatal: false,
        severity: 1,
        message:
          'File ignored because of a matching ignore pattern. Use "--no-ignore" to disable file ignore settings or use "--no-warn-ignored" to suppress this warning.',
        nodeType: null,
      },
    ],
    suppressedMessages: [],
    errorCount: 0,
    warningCount: 1,
    fatalErrorCount: 0,
    fixableErrorCount: 0,
    fixableWarningCount: 0,
    usedDeprecatedRules: [],
  },
];
const ESLINT_JSON = `${JSON.stringify(ESLINT_RESULTS)}\n`;

describe('eslintParser', () => {
  it('counts severity 2 as errors and 1 as warnings, per file', () => {
    const issues = issuesOf(eslintParser.parse(ESLINT_JSON));
    expect(count(issues)).toEqual({ errors: 4, warnings: 3 });
    const perFile = (f: string) => count(issues.filter((i) => i.file === f));
    expect(perFile('/src/app/a.js')).toEqual({ errors: 3, warnings: 2 });
    expect(perFile('/src/app/b.js')).toEqual({ errors: 0, warnings: 0 });
    expect(perFile('/src/app/c.js')).toEqual({ errors: 1, warnings: 0 });
    expect(perFile('/src/app/ign.js')).toEqual({ errors: 0, warnings: 1 });
  });

  it('keeps file, line and the message with its rule id in parentheses', () => {
    const issues = issuesOf(eslintParser.parse(ESLINT_JSON));
    expect(issues.slice(0, 5)).toEqual([
      { severity: 'error', file: '/src/app/a.js', line: 1, message: 'Unexpected var, use let or const instead. (no-var)' },
      { severity: 'warning', file: '/src/app/a.js', line: 1, message: "'unused' is assigned a value but never used. (no-unused-vars)" },
      { severity: 'error', file: '/src/app/a.js', line: 2, message: "'x' is not defined. (no-undef)" },
      { severity: 'error', file: '/src/app/a.js', line: 2, message: "Expected '===' and instead saw '=='. (eqeqeq)" },
      { severity: 'warning', file: '/src/app/a.js', line: 2, message: "Unexpected 'debugger' statement. (no-debugger)" },
    ]);
  });

  it('adds no rule suffix for a null ruleId (parse errors) and a null line when eslint gives none', () => {
    const issues = issuesOf(eslintParser.parse(ESLINT_JSON));
    expect(issues[5]).toEqual({ severity: 'error', file: '/src/app/c.js', line: 1, message: 'Parsing error: Unexpected token =' });
    expect(issues[6]).toMatchObject({ severity: 'warning', file: '/src/app/ign.js', line: null });
    expect(issues[6]?.message).toMatch(/^File ignored because of a matching ignore pattern\..*warning\.$/);
  });

  it('reads an empty result list (no files linted) as no issues', () => {
    expect(issuesOf(eslintParser.parse('[]\n'))).toEqual([]);
  });

  it('rejects the default stylish format, quoting its first non-blank line', () => {
    const stylish = [
      '',
      '/src/app/a.js',
      "  1:5  warning  'unused' is assigned a value but never used  no-unused-vars",
      "  2:7  error    Expected '===' and instead saw '=='          eqeqeq",
      '',
      '\u2716 2 problems (1 error, 1 warning)',
      '',
    ].join('\n');
    const error = errorOf(eslintParser.parse(stylish));
    expect(error).toContain('not JSON');
    expect(error).toContain('--format json');
    expect(error).toContain('"/src/app/a.js"');
  });

  it('rejects a crash message and empty output as not JSON', () => {
    const crash = "\nOops! Something went wrong! :(\n\nESLint: 9.39.5\n\nESLint couldn't find an eslint.config.(js|mjs|cjs) file.\n";
    expect(errorOf(eslintParser.parse(crash))).toContain('"Oops! Something went wrong! :("');
    expect(errorOf(eslintParser.parse(''))).toContain('not JSON');
  });

  it('cuts a long first line to 200 characters in the error', () => {
    const error = errorOf(eslintParser.parse(`${'x'.repeat(500)}\n`));
    expect(error).toContain(JSON.stringify('x'.repeat(200)));
    expect(error).not.toContain('x'.repeat(201));
  });

  it.each([
    ['an object', '{"filePath":"a.js","messages":[]}'],
    ['null', 'null'],
    ['a number', '3'],
    ['a string', '"[]"'],
  ])('rejects JSON that is %s instead of an array', (_what, json) => {
    expect(errorOf(eslintParser.parse(json))).toBe('eslint JSON output must be an array of file results');
  });

  it.each([
    ['a null entry', '[null]'],
    ['an entry without filePath', '[{"messages":[]}]'],
    ['a numeric filePath', '[{"filePath":1,"messages":[]}]'],
    ['an entry without messages', '[{"filePath":"a.js"}]'],
    ['messages that are an object', '[{"filePath":"a.js","messages":{}}]'],
    ['a bad entry after a good one', '[{"filePath":"a.js","messages":[{"severity":2,"message":"m","line":1}]},{"filePath":"b.js"}]'],
  ])('rejects %s', (_what, json) => {
    expect(errorOf(eslintParser.parse(json))).toBe('eslint JSON output: each entry needs filePath and messages');
  });

  // A malformed message is reported, not thrown.
  it('rejects a null message with an error instead of throwing', () => {
    const parsed = eslintParser.parse('[{"filePath":"a.js","messages":[null]}]');
    expect(parsed.ok).toBe(false);
  });
});

// `tsc --noEmit -p .` with stdout piped (not a TTY), as tsc 5.9 prints it: no summary line.
const TSC_PLAIN = `src/a.ts(1,7): error TS2322: Type 'string' is not assignable to type 'number'.
src/b.ts(2,14): error TS2741: Property 'age' is missing in type '{ name: string; }' but required in type 'P'.
src/b.ts(4,3): error TS2345: Argument of type '(a: number) => number' is not assignable to parameter of type '(a: string) => void'.
  Types of parameters 'a' and 'a' are incompatible.
    Type 'string' is not assignable to type 'number'.
src/b.ts(5,22): error TS2307: Cannot find module './missing' or its corresponding type declarations.
src/b.ts(7,5): error TS2322: Type 'number' is not assignable to type 'string'.
`;

// `tsc --noEmit -p . --pretty`, exactly as tsc 5.9 writes it (with colours) for the same program.
const TSC_PRETTY_COLOURED =
  "\x1b[96msrc/a.ts\x1b[0m:\x1b[93m1\x1b[0m:\x1b[93m7\x1b[0m - \x1b[91merror\x1b[0m\x1b[90m TS2322: \x1b[0mType 'string' is not assignable to type 'number'.\n" +
  '\n' +
  "\x1b[7m1\x1b[0m const x: number = 'a';\n" +
  '\x1b[7m \x1b[0m \x1b[91m      ~\x1b[0m\n' +
  '\n' +
  "\x1b[96msrc/b.ts\x1b[0m:\x1b[93m2\x1b[0m:\x1b[93m14\x1b[0m - \x1b[91merror\x1b[0m\x1b[90m TS2741: \x1b[0mProperty 'age' is missing in type '{ name: string; }' but required in type 'P'.\n" +
  '\n' +
  "\x1b[7m2\x1b[0m export const p: P = { name: 'n' };\n" +
  '\x1b[7m \x1b[0m \x1b[91m             ~\x1b[0m\n' +
  '\n' +
  '  \x1b[96msrc/b.ts\x1b[0m:\x1b[93m1\x1b[0m:\x1b[93m29\x1b[0m\n' +
  '    \x1b[7m1\x1b[0m interface P { name: string; age: number }\n' +
  '    \x1b[7m \x1b[0m \x1b[96m                            ~~~\x1b[0m\n' +
  "    'age' is declared here.\n" +
  '\n' +
  '\n' +
  'Found 2 errors in 2 files.\n' +
  '\n' +
  'Errors  Files\n' +
  '     1  src/a.ts\x1b[90m:1\x1b[0m\n' +
  '     1  src/b.ts\x1b[90m:2\x1b[0m\n';

const TSC_PRETTY_UNCOLOURED = TSC_PRETTY_COLOURED.replace(/\x1b\[[0-9;]*m/g, '');

describe('tscParser', () => {
  it('reads plain output: one error per diagnostic, continuation lines folded away', () => {
    const issues = issuesOf(tscParser.parse(TSC_PLAIN));
    expect(issues).toEqual([
      { severity: 'error', file: 'src/a.ts', line: 1, message: "TS2322: Type 'string' is not assignable to type 'number'." },
      {
        severity: 'error',
        file: 'src/b.ts',
        line: 2,
        message: "TS2741: Property 'age' is missing in type '{ name: string; }' but required in type 'P'.",
      },
      {
        severity: 'error',
        file: 'src/b.ts',
        line: 4,
        message: "TS2345: Argument of type '(a: number) => number' is not assignable to parameter of type '(a: string) => void'.",
      },
      {
        severity: 'error',
        file: 'src/b.ts',
        line: 5,
        message: "TS2307: Cannot find module './missing' or its corresponding type declarations.",
      },
      { severity: 'error', file: 'src/b.ts', line: 7, message: "TS2322: Type 'number' is not assignable to type 'string'." },
    ]);
  });

  it('ignores the "Found N errors" summary lines', () => {
    const out = `${TSC_PLAIN}\nFound 5 errors in 2 files.\n`;
    expect(count(issuesOf(tscParser.parse(out)))).toEqual({ errors: 5, warnings: 0 });
    const one = "src/a.ts(1,7): error TS2322: Type 'string' is not assignable to type 'number'.\n\nFound 1 error in src/a.ts:1\n";
    expect(count(issuesOf(tscParser.parse(one)))).toEqual({ errors: 1, warnings: 0 });
  });

  it('reads CRLF output the same', () => {
    expect(issuesOf(tscParser.parse(TSC_PLAIN.replace(/\n/g, '\r\n')))).toEqual(issuesOf(tscParser.parse(TSC_PLAIN)));
  });

  it('reads the --pretty diagnostic header `file:line:col - error TSnnnn: message`', () => {
    const out = [
      "src/a.ts:1:7 - error TS2322: Type 'string' is not assignable to type 'number'.",
      '',
      "src/b.ts:4:3 - error TS2345: Argument of type '(a: number) => number' is not assignable to parameter of type '(a: string) => void'.",
      "  Types of parameters 'a' and 'a' are incompatible.",
      "    Type 'string' is not assignable to type 'number'.",
      '',
      '',
      'Found 2 errors in 2 files.',
    ].join('\n');
    expect(issuesOf(tscParser.parse(out))).toEqual([
      { severity: 'error', file: 'src/a.ts', line: 1, message: "TS2322: Type 'string' is not assignable to type 'number'." },
      {
        severity: 'error',
        file: 'src/b.ts',
        line: 4,
        message: "TS2345: Argument of type '(a: number) => number' is not assignable to parameter of type '(a: string) => void'.",
      },
    ]);
  });

  it('keeps a Windows path with a drive letter and parentheses in file names', () => {
    const out =
      "C:\\work\\app\\(routes)\\page.tsx(12,5): error TS2304: Cannot find name 'foo'.\nC:\\work\\app\\main.ts:3:1 - error TS1005: ';' expected.\n";
    expect(issuesOf(tscParser.parse(out))).toEqual([
      { severity: 'error', file: 'C:\\work\\app\\(routes)\\page.tsx', line: 12, message: "TS2304: Cannot find name 'foo'." },
      { severity: 'error', file: 'C:\\work\\app\\main.ts', line: 3, message: "TS1005: ';' expected." },
    ]);
  });

  it('counts a global error with no file (bad tsconfig path) as an error with a null line', () => {
    const out = "error TS5058: The specified path does not exist: 'nonexist'.\n";
    expect(issuesOf(tscParser.parse(out))).toEqual([
      { severity: 'error', file: '', line: null, message: "error TS5058: The specified path does not exist: 'nonexist'." },
    ]);
  });

  it('reads a clean run (no output) as no issues', () => {
    expect(issuesOf(tscParser.parse(''))).toEqual([]);
    expect(issuesOf(tscParser.parse('\n'))).toEqual([]);
  });

  it('rejects an unknown line, naming its line number and quoting it', () => {
    const out = `${TSC_PLAIN}Version 5.9.3\n`;
    expect(errorOf(tscParser.parse(out))).toBe('tsc output line 8 is not in the expected format: "Version 5.9.3"');
    const usage = 'tsc: The TypeScript Compiler - Version 5.9.3\n\nCOMMON COMMANDS\n';
    expect(errorOf(tscParser.parse(usage))).toBe(
      'tsc output line 1 is not in the expected format: "tsc: The TypeScript Compiler - Version 5.9.3"',
    );
  });

  // tsc --pretty wraps file, line, column and category in colour codes.
  it('reads real `tsc --pretty` output, colour codes included', () => {
    const issues = issuesOf(tscParser.parse(TSC_PRETTY_COLOURED));
    expect(issues.map((i) => [i.file, i.line])).toEqual([
      ['src/a.ts', 1],
      ['src/b.ts', 2],
    ]);
  });

  // --pretty also prints numbered code excerpts and an Errors/Files table.
  it('reads `tsc --pretty` output with its code excerpts and Errors/Files table', () => {
    const issues = issuesOf(tscParser.parse(TSC_PRETTY_UNCOLOURED));
    expect(issues.map((i) => [i.file, i.line])).toEqual([
      ['src/a.ts', 1],
      ['src/b.ts', 2],
    ]);
  });
});

// `pylint app nosuchmod`, pylint 4.1 (exit code 30).
const PYLINT_TEXT = `************* Module nosuchmod
nosuchmod:1:0: F0001: No module named nosuchmod (fatal)
************* Module app.bad
app/bad.py:1:12: E0001: Parsing failed: 'invalid syntax (app.bad, line 1)' (syntax-error)
************* Module app.util
app/util.py:1:0: C0114: Missing module docstring (missing-module-docstring)
app/util.py:2:0: E0401: Unable to import 'missing_module_xyz' (import-error)
app/util.py:4:0: C0103: Class name "thing" doesn't conform to PascalCase naming style (invalid-name)
app/util.py:5:4: R0913: Too many arguments (7/5) (too-many-arguments)
app/util.py:5:34: W0621: Redefining name 'g' from outer scope (line 10) (redefined-outer-name)
app/util.py:8:15: E0602: Undefined variable 'undefined_name' (undefined-variable)
app/util.py:8:32: E1101: Instance of 'thing' has no 'nope' member (no-member)
app/util.py:6:8: W0612: Unused variable 'x' (unused-variable)
app/util.py:4:0: R0903: Too few public methods (1/2) (too-few-public-methods)
app/util.py:13:4: W0702: No exception type(s) specified (bare-except)
app/util.py:1:0: W0611: Unused import os (unused-import)

------------------------------------------------------------------
Your code has been rated at 0.00/10 (previous run: 0.00/10, +0.00)

`;

describe('pylintParser', () => {
  it('counts E and F as errors, C, R and W as warnings', () => {
    const issues = issuesOf(pylintParser.parse(PYLINT_TEXT));
    expect(count(issues)).toEqual({ errors: 5, warnings: 8 });
    const byLetter = (letter: string) => issues.filter((i) => i.message.startsWith(letter)).map((i) => i.severity);
    expect(byLetter('F')).toEqual(['error']);
    expect(byLetter('E')).toEqual(['error', 'error', 'error', 'error']);
    expect(byLetter('C')).toEqual(['warning', 'warning']);
    expect(byLetter('R')).toEqual(['warning', 'warning']);
    expect(byLetter('W')).toEqual(['warning', 'warning', 'warning', 'warning']);
  });

  it('keeps file, line and `CODE: message (symbol)`', () => {
    const issues = issuesOf(pylintParser.parse(PYLINT_TEXT));
    expect(issues[0]).toEqual({ severity: 'error', file: 'nosuchmod', line: 1, message: 'F0001: No module named nosuchmod (fatal)' });
    expect(issues[1]).toEqual({
      severity: 'error',
      file: 'app/bad.py',
      line: 1,
      message: "E0001: Parsing failed: 'invalid syntax (app.bad, line 1)' (syntax-error)",
    });
    expect(issues[6]).toEqual({
      severity: 'warning',
      file: 'app/util.py',
      line: 5,
      message: "W0621: Redefining name 'g' from outer scope (line 10) (redefined-outer-name)",
    });
    expect(issues.filter((i) => i.file === 'app/util.py').map((i) => i.line)).toEqual([1, 2, 4, 5, 5, 8, 8, 6, 4, 13, 1]);
  });

  it('counts informational I messages as warnings', () => {
    const out = `************* Module app.ok
app/ok.py:2:0: I0011: Locally disabling invalid-name (C0103) (locally-disabled)
app/ok.py:2:0: I0021: Useless suppression of 'invalid-name' (useless-suppression)

------------------------------------
Your code has been rated at 10.00/10

`;
    expect(issuesOf(pylintParser.parse(out))).toEqual([
      { severity: 'warning', file: 'app/ok.py', line: 2, message: 'I0011: Locally disabling invalid-name (C0103) (locally-disabled)' },
      { severity: 'warning', file: 'app/ok.py', line: 2, message: "I0021: Useless suppression of 'invalid-name' (useless-suppression)" },
    ]);
  });

  it('reads a clean run (only the rating) as no issues', () => {
    const out =
      '\n--------------------------------------------------------------------\nYour code has been rated at 10.00/10 (previous run: 9.50/10, +0.50)\n\n';
    expect(issuesOf(pylintParser.parse(out))).toEqual([]);
  });

  it('rejects the parseable format, naming the first issue line', () => {
    const out = `************* Module app.long
app/long.py:1: [C0303(trailing-whitespace), ] Trailing whitespace
app/long.py:4: [C0305(trailing-newlines), ] Trailing newlines
`;
    expect(errorOf(pylintParser.parse(out))).toBe(
      'pylint output line 2 is not in the expected format: "app/long.py:1: [C0303(trailing-whitespace), ] Trailing whitespace"',
    );
  });

  it('rejects a line with an unknown message letter', () => {
    const out = '************* Module m\nm.py:1:0: X0001: made up (made-up)\n';
    expect(errorOf(pylintParser.parse(out))).toBe(
      'pylint output line 2 is not in the expected format: "m.py:1:0: X0001: made up (made-up)"',
    );
  });

  // R0801 (duplicate-code, on by default) spans several lines after its issue line.
  it('reads an R0801 duplicate-code message that spans several lines', () => {
    const out = `************* Module pkg.one
pkg/one.py:1:0: R0801: Similar lines in 2 files
==pkg.one:[5:12]
==pkg.two:[5:12]
    total = 0
    for value in values:
        if value > 10:
            total += value * 2
        else:
            total -= value
    return total (duplicate-code)

-----------------------------------
Your code has been rated at 9.29/10

`;
    const issues = issuesOf(pylintParser.parse(out));
    expect(count(issues)).toEqual({ errors: 0, warnings: 1 });
    expect(issues[0]).toMatchObject({ file: 'pkg/one.py', line: 1 });
  });
});

// `flake8 --max-complexity 1 app`, flake8 7.4 (pycodestyle E/W, pyflakes F, mccabe C).
const FLAKE8_TEXT = `app/bad.py:1:13: E999 SyntaxError: invalid syntax
app/long.py:1:1: F401 'os' imported but unused
app/long.py:1:10: W291 trailing whitespace
app/long.py:2:80: E501 line too long (96 > 79 characters)
app/long.py:4:1: W391 blank line at end of file
app/util.py:4:1: E302 expected 2 blank lines, found 1
app/util.py:5:5: C901 'thing.f' is too complex (2)
app/util.py:6:9: F841 local variable 'x' is assigned to but never used
app/util.py:8:16: F821 undefined name 'undefined_name'
app/util.py:13:5: E722 do not use bare 'except'
`;

describe('flake8Parser', () => {
  it('counts E and F codes as errors, W and C codes as warnings', () => {
    const issues = issuesOf(flake8Parser.parse(FLAKE8_TEXT));
    expect(count(issues)).toEqual({ errors: 7, warnings: 3 });
    expect(issues.filter((i) => i.severity === 'warning').map((i) => i.message.slice(0, 4))).toEqual(['W291', 'W391', 'C901']);
  });

  it('keeps file, line and `CODE message`', () => {
    const issues = issuesOf(flake8Parser.parse(FLAKE8_TEXT));
    expect(issues[0]).toEqual({ severity: 'error', file: 'app/bad.py', line: 1, message: 'E999 SyntaxError: invalid syntax' });
    expect(issues[3]).toEqual({ severity: 'error', file: 'app/long.py', line: 2, message: 'E501 line too long (96 > 79 characters)' });
    expect(issues[6]).toEqual({ severity: 'warning', file: 'app/util.py', line: 5, message: "C901 'thing.f' is too complex (2)" });
    expect(issues.map((i) => i.line)).toEqual([1, 1, 1, 2, 4, 4, 5, 6, 8, 13]);
    expect(count(issues.filter((i) => i.file === 'app/long.py'))).toEqual({ errors: 2, warnings: 2 });
  });

  it('reads plugin codes with longer prefixes and a clean run', () => {
    const out =
      "./src/m.py:3:1: ANN001 Missing type annotation for function argument 'x'\n./src/m.py:7:5: B006 Do not use mutable data structures for argument defaults\n";
    expect(issuesOf(flake8Parser.parse(out))).toEqual([
      { severity: 'warning', file: './src/m.py', line: 3, message: "ANN001 Missing type annotation for function argument 'x'" },
      { severity: 'warning', file: './src/m.py', line: 7, message: 'B006 Do not use mutable data structures for argument defaults' },
    ]);
    expect(issuesOf(flake8Parser.parse(''))).toEqual([]);
  });

  it('rejects --show-source output at the first source line, quoting it', () => {
    const out = "app/long.py:1:1: F401 'os' imported but unused\nimport os  \n^\n";
    expect(errorOf(flake8Parser.parse(out))).toBe('flake8 output line 2 is not in the expected format: "import os  "');
  });

  it('counts line numbers over blank lines in the output', () => {
    const out = 'app/a.py:1:1: E302 expected 2 blank lines, found 1\n\n\nnot flake8\n';
    expect(errorOf(flake8Parser.parse(out))).toBe('flake8 output line 4 is not in the expected format: "not flake8"');
  });
});

describe('regexParser', () => {
  const shellcheckGcc = /^(?<file>[^:]+):(?<line>\d+):\d+: (?<severity>\w+): (?<message>.*)$/;

  it('reads named groups; default errorSeverity is error, fatal or e (any case)', () => {
    const out = `In script.sh we found:
script.sh:3:5: error: Double quote to prevent globbing [SC2086]
script.sh:7:1: warning: var appears unused [SC2034]
script.sh:9:12: note: Use $(...) notation [SC2006]
script.sh:11:1: Fatal: cannot parse
lib.sh:2:2: E: short form
1 file checked.
`;
    const issues = issuesOf(regexParser({ pattern: shellcheckGcc }).parse(out));
    expect(issues).toEqual([
      { severity: 'error', file: 'script.sh', line: 3, message: 'Double quote to prevent globbing [SC2086]' },
      { severity: 'warning', file: 'script.sh', line: 7, message: 'var appears unused [SC2034]' },
      { severity: 'warning', file: 'script.sh', line: 9, message: 'Use $(...) notation [SC2006]' },
      { severity: 'error', file: 'script.sh', line: 11, message: 'cannot parse' },
      { severity: 'error', file: 'lib.sh', line: 2, message: 'short form' },
    ]);
  });

  it('uses errorSeverity to decide which severities are errors', () => {
    const parser = regexParser({ pattern: shellcheckGcc, errorSeverity: /^(error|warning)$/ });
    const out = 'a.sh:1:1: error: x\na.sh:2:1: warning: y\na.sh:3:1: note: z\na.sh:4:1: style: w\n';
    expect(issuesOf(parser.parse(out)).map((i) => i.severity)).toEqual(['error', 'error', 'warning', 'warning']);
  });

  it('without a severity group every match is a warning; without file, line or message it uses defaults', () => {
    const parser = regexParser({ pattern: /TODO/ });
    const issues = issuesOf(parser.parse('ok\n// TODO: fix\nfine\nTODO again\n'));
    expect(issues).toEqual([
      { severity: 'warning', file: '', line: null, message: '// TODO: fix' },
      { severity: 'warning', file: '', line: null, message: 'TODO again' },
    ]);
  });

  it('ignores lines that do not match, so any output parses', () => {
    expect(issuesOf(regexParser({ pattern: shellcheckGcc }).parse('nothing to see\n\n\u2716 garbage\n'))).toEqual([]);
    expect(regexParser({ pattern: shellcheckGcc }).name).toBe('regex');
  });

  it('reads CRLF lines without a trailing \\r in the message', () => {
    const issues = issuesOf(regexParser({ pattern: shellcheckGcc }).parse('a.sh:1:1: error: x\r\na.sh:2:1: warning: y\r\n'));
    expect(issues.map((i) => i.message)).toEqual(['x', 'y']);
  });

  // A caller's /g or /y regex must not carry lastIndex from one line to the next.
  it('finds every issue when the pattern has the g flag', () => {
    const parser = regexParser({ pattern: /^(?<file>[^:]+):(?<line>\d+):\d+: (?<severity>\w+): (?<message>.*)$/g });
    const out = 'script.sh:3:5: error: Double quote to prevent globbing\na.sh:7:1: warning: x\n';
    expect(issuesOf(parser.parse(out))).toHaveLength(2);
  });

  it('counts every error when errorSeverity has the g flag', () => {
    const parser = regexParser({ pattern: shellcheckGcc, errorSeverity: /error/gi });
    const out = 'a.sh:1:1: error: x\na.sh:2:1: error: y\n';
    expect(count(issuesOf(parser.parse(out)))).toEqual({ errors: 2, warnings: 0 });
  });
});

describe('lintParser', () => {
  it.each([
    ['eslint', eslintParser],
    ['tsc', tscParser],
    ['pylint', pylintParser],
    ['flake8', flake8Parser],
  ] as const)('resolves "%s" to its parser', (name, parser) => {
    expect(lintParser(name)).toBe(parser);
    expect(lintParser(name).name).toBe(name);
  });

  it('knows exactly the four built-in formats', () => {
    expect(Object.keys(LINT_FORMATS).sort()).toEqual(['eslint', 'flake8', 'pylint', 'tsc']);
  });

  it('passes a parser object through unchanged', () => {
    const custom: LintParser = regexParser({ pattern: /x/ });
    expect(lintParser(custom)).toBe(custom);
  });

  it('parses each format through the resolved parser', () => {
    expect(count(issuesOf(lintParser('flake8').parse(FLAKE8_TEXT)))).toEqual({ errors: 7, warnings: 3 });
    expect(count(issuesOf(lintParser('pylint').parse(PYLINT_TEXT)))).toEqual({ errors: 5, warnings: 8 });
    expect(lintParser('tsc').parse(FLAKE8_TEXT).ok).toBe(false);
  });
});
