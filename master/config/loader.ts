import path from 'node:path';
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../../core/errors/index.ts';
import { compileConfig, type CompiledConfig } from './compile.ts';

/** Imports a `master.config.ts` (or .js/.mjs) module and compiles its default export. */
export async function loadConfigFile(file: string): Promise<CompiledConfig> {
  const full = path.resolve(file);
  if (!fs.existsSync(full)) throw new ConfigError([{ path: '', message: `config file not found: ${full}` }], file);
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(full).href)) as { default?: unknown };
  } catch (e) {
    throw new ConfigError([{ path: '', message: `cannot load: ${(e as Error).message}` }], file);
  }
  if (mod.default === undefined) {
    throw new ConfigError([{ path: '', message: 'has no default export (export default defineConfig({...}))' }], file);
  }
  return compileConfig(mod.default, file);
}
