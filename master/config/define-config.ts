import type { ConfigInput } from './schema.ts';

/** Types a config module's default export; checking happens when the master loads it. */
export function defineConfig(config: ConfigInput): ConfigInput {
  return config;
}
