import path from 'node:path';
import fs from 'node:fs';
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../../core/errors/index.ts';
import { compileConfig, type CompiledConfig } from './compile.ts';
import { errorMessage } from '../../core/error-message.ts';
import { isRecord } from '../../core/is-record.ts';

// A config module is ESM whatever the nearest package.json says. tsx picks a `.ts` file's format
// from that package.json, so in a project without `"type": "module"` it compiled the config to
// CommonJS, which then require()d the ESM `caliper` package in a cycle and failed. These module
// hooks mark the config's URL and force format `module` for it and for the project's own `.ts`
// files it imports by path (packages and `.js` files keep their format: they may be CommonJS);
// tsx still strips the types. Plain JS in a data: URL because hooks run on the loader thread,
// where nothing of ours is imported.
const ESM_MARK = 'caliper-config-esm';
const ESM_CONFIG_HOOKS = String.raw`
const MARK = ${JSON.stringify(ESM_MARK)};
const TYPESCRIPT = /\.(?:m?ts|tsx)$/;
const OWN_FILE = /^(?:\.{1,2}\/|\/|file:)/; // a path, not a package
export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  if (!resolved.url.startsWith('file:')) return resolved;
  const url = new URL(resolved.url);
  const fromConfig = context.parentURL !== undefined && context.parentURL.includes(MARK);
  if (!url.searchParams.has(MARK) && !(fromConfig && OWN_FILE.test(specifier))) return resolved;
  // tsx points a CommonJS-typed file at a virtual URL (path%3F<query>): keep the file's path.
  url.pathname = url.pathname.split('%3F')[0];
  if (!TYPESCRIPT.test(url.pathname)) return resolved;
  url.search = '';
  url.searchParams.set(MARK, '');
  return { ...resolved, url: url.href, format: 'module' };
}
`;

let esmHooksRegistered = false;

/** The URL to import a config file by, loaded as ESM (see ESM_CONFIG_HOOKS). */
function esmConfigUrl(full: string): string {
  if (!esmHooksRegistered) {
    register(`data:text/javascript,${encodeURIComponent(ESM_CONFIG_HOOKS)}`);
    esmHooksRegistered = true;
  }
  const url = pathToFileURL(full);
  url.searchParams.set(ESM_MARK, '');
  return url.href;
}

/** What to tell a user whose config still fails as CommonJS (a `.cts`/`.cjs` config, say). */
function loadHint(e: unknown, full: string): string {
  if (!/require\(\) (of )?ES Module|ERR_REQUIRE_(ESM|CYCLE_MODULE)/.test(errorMessage(e))) return '';
  return ` (a config module must be ESM: name it master.config.ts or .mjs, or add "type": "module" to the package.json beside ${full})`;
}

/** Imports a `master.config.ts` (or .js/.mjs) module and compiles its default export. */
export async function loadConfigFile(file: string): Promise<CompiledConfig> {
  const full = path.resolve(file);
  if (!fs.existsSync(full)) throw new ConfigError([{ path: '', message: `config file not found: ${full}` }], file);
  let mod: unknown;
  try {
    mod = await import(esmConfigUrl(full));
  } catch (e) {
    throw new ConfigError([{ path: '', message: `cannot load: ${errorMessage(e)}${loadHint(e, full)}` }], file);
  }
  const config = isRecord(mod) ? mod.default : undefined; // a module namespace is an object
  if (config === undefined) {
    throw new ConfigError([{ path: '', message: 'has no default export (export default defineConfig({...}))' }], file);
  }
  return compileConfig(config, file);
}
