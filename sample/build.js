// Builds dist/stats.js (comments stripped) and prints its size in bytes.
import fs from 'node:fs';

const source = fs.readFileSync('src/stats.js', 'utf8');
const out = source.replace(/\/\*\*[\s\S]*?\*\/\n/g, '');
fs.mkdirSync('dist', { recursive: true });
fs.writeFileSync('dist/stats.js', out);
console.log(`dist/stats.js: ${Buffer.byteLength(out)} bytes`);
