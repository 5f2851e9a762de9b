// Builds the web UI: frontend/src/main.ts -> frontend/dist/app.js (+ css, index.html), minified.
// Prints the gzipped size of the JavaScript and fails over the budget (issue 16: 80 KB gzipped).
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'frontend', 'dist');
if (!fs.existsSync(path.join(root, 'frontend', 'src', 'main.ts'))) {
  console.log('ui: no frontend/src/main.ts; nothing to build');
  process.exit(0);
}
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
await build({
  entryPoints: [path.join(root, 'frontend', 'src', 'main.ts')],
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2020',
  outfile: path.join(out, 'app.js'),
  loader: { '.css': 'css' },
  logLevel: 'warning',
});
fs.copyFileSync(path.join(root, 'frontend', 'index.html'), path.join(out, 'index.html'));
const js = fs.readFileSync(path.join(out, 'app.js'));
const gz = zlib.gzipSync(js).length;
const BUDGET_KB = 80; // bench/ui.ts checks the same figure
console.log(`ui: frontend/dist/app.js ${(js.length / 1024).toFixed(1)} KB, ${(gz / 1024).toFixed(1)} KB gzipped (budget ${BUDGET_KB} KB)`);
if (gz > BUDGET_KB * 1024) {
  console.error(`ui: JavaScript over the ${BUDGET_KB} KB gzipped budget`);
  process.exit(1);
}
