import path from 'node:path';
import fs from 'node:fs';
import { register } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError } from '../../core/errors/index.ts';
import { compileConfig, type CompiledConfig } from './compile.ts';
import { errorMessage } from '../../core/error-message.ts';
import { isRecord } from '../../core/is-record.ts';
import { withConfigDir } from './yaml-projects.ts';

// A config module is ESM whatever the nearest package.json says. tsx picks a `.ts` file's format
// from that package.json, so in a project without `"type": "module"` it compiled the config to
// CommonJS, which then require()d the ESM `caliper` package in a cycle and failed. These module
// hooks mark the config's URL and force format `module` for it and for the project's own `.ts`
// files it imports by path (packages and `.js` files keep their format: they may be CommonJS);
// tsx still strips the types. Plain JS in a data: URL because hooks run on the loader thread,
// where nothing of ours is imported.
const ESM_MARK = 'caliper-config-esm';
// Compiled (dist/*.js), nothing in this process compiles TypeScript until we register tsx; run from
// the sources (*.ts), tsx or vitest already does, and registering tsx again would compile twice.
const COMPILED = !fileURLToPath(import.meta.url).endsWith('.ts');
// The package this loader belongs to. A config's `caliper` import is this one, never another copy
// (a project's own node_modules/caliper, or in a checkout the package's dist/ beside these sources):
// `instanceof` and the brands on our classes only work with one copy of them in a process.
const CALIPER_ENTRY = new URL(COMPILED ? '../../index.js' : '../../index.ts', import.meta.url).href;
const ESM_CONFIG_HOOKS = String.raw`
const MARK = ${JSON.stringify(ESM_MARK)};
const CALIPER = ${JSON.stringify(CALIPER_ENTRY)};
const TYPESCRIPT = /\.(?:m?ts|tsx)$/;
const OWN_FILE = /^(?:\.{1,2}\/|\/|file:)/; // a path, not a package
export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'caliper') return nextResolve(CALIPER, context);
  const resolved = await nextResolve(specifier, context);
  if (!resolved.url.startsWith('file:')) return resolved;
  const url = new URL(resolved.url);
  const fromConfig = context.parentURL !== undefined && context.parentURL.includes(MARK);
  if (!url.searchParams.has(MARK) && !(fromConfig && OWN_FILE.test(specifier))) return resolved;
  // tsx points a CommonJS-typed file at a virtual URL (path%3F<query>): keep the file's path.
  url.pathname = url.pathname.split('%3F')[0];
  if (!TYPESCRIPT.test(url.pathname)) return resolved;
  // The mark's value is the load's generation, handed down to the files the config imports: a
  // reload (reconfig) imports them afresh instead of reusing the modules of the first load.
  const generation = url.searchParams.get(MARK) ?? (fromConfig ? new URL(context.parentURL).searchParams.get(MARK) : null) ?? '';
  url.search = '';
  url.searchParams.set(MARK, generation);
  return { ...resolved, url: url.href, format: 'module' };
}
`;

let esmHooksRegistered: Promise<void> | null = null;
/** Loads so far: each load imports the config (and its own files) anew, so a reconfig sees their edits. */
let loads = 0;

async function registerHooks(): Promise<void> {
  // tsx first: hooks registered later run first, so ours see each import before tsx does.
  if (COMPILED) (await import('tsx/esm/api')).register();
  register(`data:text/javascript,${encodeURIComponent(ESM_CONFIG_HOOKS)}`);
}

/** The URL to import a config file by, loaded as ESM (see ESM_CONFIG_HOOKS). */
async function esmConfigUrl(full: string): Promise<string> {
  await (esmHooksRegistered ??= registerHooks());
  const url = pathToFileURL(full);
  url.searchParams.set(ESM_MARK, String(loads++));
  return url.href;
}

/** What to tell a user whose config still fails as CommonJS (a `.cts`/`.cjs` config, say). */
function loadHint(e: unknown, full: string): string {
  if (!/require\(\) (of )?ES Module|ERR_REQUIRE_(ESM|CYCLE_MODULE)/.test(errorMessage(e))) return '';
  return ` (a config module must be ESM: name it master.config.ts or .mjs, or add "type": "module" to the package.json beside ${full})`;
}

/** Imports a `master.config.ts` (or .js/.mjs) module, afresh on each call, and compiles its default export. */
export async function loadConfigFile(file: string): Promise<CompiledConfig> {
  const full = path.resolve(file);
  if (!fs.existsSync(full)) throw new ConfigError([{ path: '', message: `config file not found: ${full}` }], file);
  let mod: unknown;
  try {
    // yamlProjects('projects/') in the module reads the folder beside the config, not the cwd's.
    mod = await withConfigDir(path.dirname(full), async () => import(await esmConfigUrl(full)));
  } catch (e) {
    // A YAML project's errors (file:line:column each) are the config's own: shown as they are.
    if (e instanceof ConfigError) throw e;
    throw new ConfigError([{ path: '', message: `cannot load: ${errorMessage(e)}${loadHint(e, full)}` }], file);
  }
  const config = isRecord(mod) ? mod.default : undefined; // a module namespace is an object
  if (config === undefined) {
    throw new ConfigError([{ path: '', message: 'has no default export (export default defineConfig({...}))' }], file);
  }
  return compileConfig(config, file);
}
