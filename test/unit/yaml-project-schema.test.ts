/**
 * The JSON Schema shipped for editors (master/config/yaml-project.schema.json): it is what the zod
 * schema makes (so it never drifts), and ajv, an independent validator, accepts the shipped example
 * project and every YAML example in docs/projects.md, and refuses what the loader refuses.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { yamlProjectJsonSchema, YAML_PROJECT_SCHEMA_FILE } from '../../master/config/yaml-project-json-schema.ts';
import { yamlProjectSchema } from '../../master/config/yaml-project-schema.ts';
import { readYamlProject } from '../../master/config/yaml-projects.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const shipped: unknown = JSON.parse(fs.readFileSync(YAML_PROJECT_SCHEMA_FILE, 'utf8'));
const validate = new Ajv({ allErrors: true, strict: false }).compile(shipped as object);

/** The ```yaml blocks of a Markdown file. */
function yamlBlocks(file: string): string[] {
  return [...fs.readFileSync(file, 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
}

describe('the YAML project JSON Schema', () => {
  it('is the one the zod schema makes (regenerate with npx tsx master/config/yaml-project-json-schema.ts)', () => {
    expect(shipped).toEqual(yamlProjectJsonSchema());
  });

  it('accepts projects/sample.yml, as the loader does', () => {
    const sample: unknown = parse(fs.readFileSync(path.join(ROOT, 'projects/sample.yml'), 'utf8'));
    expect(validate(sample), JSON.stringify(validate.errors)).toBe(true);
    expect(yamlProjectSchema.safeParse(sample).success).toBe(true);
  });

  it('accepts every example in docs/projects.md', () => {
    const blocks = yamlBlocks(path.join(ROOT, 'docs/projects.md'));
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    for (const block of blocks) {
      const doc: unknown = parse(block);
      expect(validate(doc), `${block}\n${JSON.stringify(validate.errors)}`).toBe(true);
      expect(yamlProjectSchema.safeParse(doc).success, block).toBe(true);
    }
  });

  it('every example in docs/projects.md also passes the loader, steps and schedulers included', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-doc-projects-'));
    try {
      yamlBlocks(path.join(ROOT, 'docs/projects.md')).forEach((block, i) => {
        const file = path.join(dir, `example${i}.yml`);
        fs.writeFileSync(file, block);
        expect(readYamlProject(file).issues, block).toEqual([]);
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['an unknown key', { runs: [{ name: 'a', comand: 'make' }] }, 'additionalProperties'],
    ['a trigger of an unknown type', { runs: [{ name: 'a', command: 'make' }], triggers: [{ type: 'nightly' }] }, ''],
    ['no runs', { runs: [] }, 'minItems'],
    ['a command that is a number', { runs: [{ name: 'a', command: 42 }] }, ''],
    ['an unknown lint format', { runs: [{ name: 'a', command: 'x', lint: 'jslint' }] }, ''],
    ['a bad run name', { runs: [{ name: 'a/b', command: 'x' }] }, 'pattern'],
  ])('refuses %s, as the loader does', (_what, doc, keyword) => {
    expect(validate(doc)).toBe(false);
    if (keyword) expect(validate.errors?.map((e) => e.keyword)).toContain(keyword);
    expect(yamlProjectSchema.safeParse(doc).success).toBe(false);
  });
});
