// Builds the web UI: frontend/src/main.ts -> frontend/dist/app.js (+ its lazy chunks, css, index.html), minified.
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
  entryPoints: { app: path.join(root, 'frontend', 'src', 'main.ts') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022', // class fields as they are: es2020 needed a helper shared by every chunk (one more request before app.js runs)
  // Code that only some pages need (uPlot, for the charts) is its own chunk, loaded when a chart is
  // first drawn: the overview and the tables do not download or compile it.
  splitting: true,
  chunkNames: 'chunk-[hash]',
  outdir: out,
  loader: { '.css': 'css' },
  logLevel: 'warning',
});
fs.copyFileSync(path.join(root, 'frontend', 'index.html'), path.join(out, 'index.html'));
const scripts = fs.readdirSync(out).filter((f) => f.endsWith('.js'));
const size = (f) => fs.statSync(path.join(out, f)).size;
const gzSize = (f) => zlib.gzipSync(fs.readFileSync(path.join(out, f))).length;
const total = scripts.reduce((n, f) => n + size(f), 0);
const gz = scripts.reduce((n, f) => n + gzSize(f), 0);
const BUDGET_KB = 80; // bench/ui.ts checks the same figure
console.log(
  `ui: frontend/dist: ${scripts.length} scripts, ${(total / 1024).toFixed(1)} KB, ${(gz / 1024).toFixed(1)} KB gzipped (budget ${BUDGET_KB} KB; app.js alone ${(gzSize('app.js') / 1024).toFixed(1)} KB)`,
);
if (gz > BUDGET_KB * 1024) {
  console.error(`ui: JavaScript over the ${BUDGET_KB} KB gzipped budget`);
  process.exit(1);
}
