/**
 * The JSON Schema of a YAML project, for editors (completion and checks as you type, e.g. with the
 * YAML language server's `# yaml-language-server: $schema=...` line). Made from the zod schema, so
 * the two never disagree: the shipped file is yaml-project.schema.json, which a test compares with
 * this as parsed JSON (Prettier formats the file). After changing the format, run
 * `npx tsx master/config/yaml-project-json-schema.ts && npx prettier --write master/config/yaml-project.schema.json`.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { yamlProjectSchema } from './yaml-project-schema.ts';

export const YAML_PROJECT_SCHEMA_FILE = fileURLToPath(new URL('./yaml-project.schema.json', import.meta.url));

/** Draft 7: the draft editors' YAML and JSON plugins read most widely. */
export function yamlProjectJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(yamlProjectSchema, { target: 'draft-7' }),
    title: 'Caliper YAML project (projects/*.yml)',
  };
}

export function yamlProjectJsonSchemaText(): string {
  return `${JSON.stringify(yamlProjectJsonSchema(), null, 2)}\n`;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === fs.realpathSync(process.argv[1])) {
  fs.writeFileSync(YAML_PROJECT_SCHEMA_FILE, yamlProjectJsonSchemaText());
  console.log(`wrote ${YAML_PROJECT_SCHEMA_FILE}`);
}
