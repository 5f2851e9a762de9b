// Prints key=value measurements of the source: lines of code and number of exported functions.
import fs from 'node:fs';

const source = fs.readFileSync('src/stats.js', 'utf8');
console.log(`source_lines=${source.split('\n').filter((l) => l.trim() !== '').length}`);
console.log(`exported_functions=${(source.match(/^export function/gm) ?? []).length}`);
