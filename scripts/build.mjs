// npm run build: the package as it ships, in dist/. The web UI (scripts/build-ui.mjs), the library
// compiled by tsc (tsconfig.build.json: JavaScript + .d.ts, `./x.ts` imports rewritten to `./x.js`),
// the files the compiled modules read beside themselves (the orphan guard's shell script, JSON
// schemas, the built UI), copied to the same places under dist/, and the agent program as one file
// (dist/agent/caliper-agent.js, see below). Exits non-zero on a type error.
//
// Built in a directory of its own, then swapped in: a master, agent or bench started from dist/ while
// this runs (another terminal, another test) sees the old build or the new one, never half of one.
import { spawnSync } from 'node:child_process';
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const final = path.join(root, 'dist');
const dist = path.join(root, `dist.building-${process.pid}`);
/** The rooms compiled (tsconfig.build.json's include); their non-TypeScript files are copied. */
const ROOMS = ['core', 'protocol', 'master', 'steps', 'agent', 'metrics'];
/** Read by people, not by the code. */
const NOT_COPIED = /\.(ts|md)$/;

function run(argv) {
  const result = spawnSync(process.execPath, argv, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

run([path.join(root, 'scripts', 'build-ui.mjs')]);
fs.rmSync(dist, { recursive: true, force: true });
process.on('exit', () => fs.rmSync(dist, { recursive: true, force: true }));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
run([tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', dist]);

let copied = 0;
for (const room of ROOMS) {
  for (const file of fs.readdirSync(path.join(root, room), { recursive: true, encoding: 'utf8' })) {
    const from = path.join(root, room, file);
    if (NOT_COPIED.test(file) || !fs.statSync(from).isFile()) continue;
    fs.mkdirSync(path.dirname(path.join(dist, room, file)), { recursive: true });
    fs.copyFileSync(from, path.join(dist, room, file));
    copied++;
  }
}
// master/api/app.ts serves the UI from ../../frontend/dist, relative to itself.
const ui = path.join(root, 'frontend', 'dist');
if (fs.existsSync(ui)) fs.cpSync(ui, path.join(dist, 'frontend', 'dist'), { recursive: true });
// The `caliper agent` program (bin/caliper.js runs it): agent/main.ts with everything it imports,
// ws and zod included, in one file. One file to read and compile instead of some forty modules
// (half of them CommonJS, which an ES module imports through a parser of its own), and only the
// parts of zod the protocol uses: the agent starts faster and holds less memory (docs/performance.md).
// Beside orphan-guard.sh, which it finds relative to itself. ws's optional native add-ons stay
// outside: `require` (made below) finds them in node_modules when a user installed them.
// zod's error messages come in some forty languages (`z.locales`, 300 KB: 40 % of the bundle); the
// agent uses English, zod's default, only. Bundling English alone leaves zod's messages as they
// were and the agent 1.5 MB smaller after start (the bundle's source text, kept by V8, and the
// locale modules' functions), 0.2 MB once idle (docs/performance.md, "The agent").
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      args.resolveDir.includes(`${path.sep}zod${path.sep}`)
        ? { path: path.resolve(args.resolveDir, args.path), namespace: 'zod-english-only' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-english-only' }, (args) => ({
      contents: "export { default as en } from './en.js';",
      resolveDir: path.dirname(args.path),
      loader: 'js',
    }));
  },
};
// ws loads Node's `https`, `tls` and `zlib` as it loads, for `wss://` URLs and compressed frames:
// about 1 MB of the agent's resident memory (TLS most of it), paid by every agent, though most dial
// `ws://` and the master never offers compression. In the bundle each loads on its first use
// instead (a Proxy stands in for the module); the build fails should ws's source change shape.
const WS_LAZY_BUILTINS = { 'websocket.js': ['https', 'tls'], 'permessage-deflate.js': ['zlib'] };
const wsLazyBuiltins = {
  name: 'ws-lazy-builtins',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]ws[\\/]lib[\\/](websocket|permessage-deflate)\.js$/ }, (args) => {
      let text = fs.readFileSync(args.path, 'utf8');
      for (const name of WS_LAZY_BUILTINS[path.basename(args.path)]) {
        const eager = `const ${name} = require('${name}');`;
        if (!text.includes(eager)) throw new Error(`scripts/build.mjs: ${args.path} no longer has \`${eager}\`: update WS_LAZY_BUILTINS`);
        text = text.replace(eager, `const ${name} = new Proxy({}, { get: (_, key) => require('${name}')[key] });`);
      }
      return { contents: text, loader: 'js' };
    });
  },
};
await build({
  entryPoints: [path.join(root, 'agent', 'main.ts')],
  outfile: path.join(dist, 'agent', 'caliper-agent.js'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Short names too: V8 keeps the bundle's text in memory, and the agent's 400 KB become 280 KB
  // (0.5 MB less resident). The source map beside it gives the names and source lines back to a
  // `node --enable-source-maps` run (Node reads it only then); without the sources' text, which
  // the package does not need twice.
  minify: true,
  sourcemap: 'linked',
  sourcesContent: false,
  // Loaded on demand from node_modules, not read at every start: prom-client only with
  // `--metrics-server` (agent/metrics-server.ts), tar only for an upload (agent/upload-runner.ts).
  external: ['bufferutil', 'utf-8-validate', 'prom-client', 'tar'],
  banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  plugins: [zodEnglishOnly, wsLazyBuiltins],
  logLevel: 'warning',
});

const old = `${final}.old-${process.pid}`;
if (fs.existsSync(final)) fs.renameSync(final, old);
fs.renameSync(dist, final);
fs.rmSync(old, { recursive: true, force: true });
console.log(`build: dist/ (${copied} files copied beside the compiled modules${fs.existsSync(ui) ? ', the web UI' : ''})`);
