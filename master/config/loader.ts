import path from 'node:path';
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../../core/errors/index.ts';
import { compileConfig, type CompiledConfig } from './compile.ts';
import { errorMessage } from '../../core/error-message.ts';
import { isRecord } from '../../core/is-record.ts';

/** Imports a `master.config.ts` (or .js/.mjs) module and compiles its default export. */
export async function loadConfigFile(file: string): Promise<CompiledConfig> {
  const full = path.resolve(file);
  if (!fs.existsSync(full)) throw new ConfigError([{ path: '', message: `config file not found: ${full}` }], file);
  let mod: unknown;
  try {
    mod = await import(pathToFileURL(full).href);
  } catch (e) {
    throw new ConfigError([{ path: '', message: `cannot load: ${errorMessage(e)}` }], file);
  }
  const config = isRecord(mod) ? mod.default : undefined; // a module namespace is an object
  if (config === undefined) {
    throw new ConfigError([{ path: '', message: 'has no default export (export default defineConfig({...}))' }], file);
  }
  return compileConfig(config, file);
}
