// A tiny linter with eslint's JSON output: flags TODO comments (warning) and `var` (error).
import fs from 'node:fs';

const files = ['src/stats.js', 'build.js'];
const results = files.map((filePath) => {
  const messages = [];
  fs.readFileSync(filePath, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (/\bTODO\b/.test(line)) messages.push({ ruleId: 'no-todo', severity: 1, message: 'TODO left in code', line: i + 1 });
      if (/\bvar\s/.test(line)) messages.push({ ruleId: 'no-var', severity: 2, message: 'Unexpected var', line: i + 1 });
    });
  return {
    filePath,
    messages,
    errorCount: messages.filter((m) => m.severity === 2).length,
    warningCount: messages.filter((m) => m.severity === 1).length,
  };
});
console.log(JSON.stringify(results));
process.exitCode = results.some((r) => r.errorCount > 0) ? 1 : 0;
