import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');

/** Every module a file reaches through static imports: project files by path, packages by name. */
function staticImports(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const source = fs.readFileSync(file, 'utf8');
    // `import type` is erased at run time; dynamic import() is not matched (it loads on demand).
    for (const m of source.matchAll(/^import\s+(?!type\s)[^'"]*?from\s+'([^']+)'|^import\s+'([^']+)'/gm)) {
      const spec = (m[1] ?? m[2]) as string;
      if (spec.startsWith('.')) visit(path.resolve(path.dirname(file), spec));
      else if (!spec.startsWith('node:'))
        packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string));
    }
  };
  visit(path.join(root, entry));
  return { files, packages };
}

describe('the agent process stays small', () => {
  it('agent/agent.ts loads ws and zod, and of the rest only protocol/ and core/', () => {
    const { files, packages } = staticImports('agent/agent.ts');
    expect([...packages].sort()).toEqual(['ws', 'zod']);
    const outside = [...files].map((f) => path.relative(root, f)).filter((f) => !f.startsWith('agent/'));
    // Only the shared rooms: the protocol and the core vocabulary, never master/, steps/ or metrics/.
    expect(outside.filter((f) => !f.startsWith('protocol/') && !f.startsWith('core/'))).toEqual([]);
    expect(outside).toContain('protocol/messages.ts');
  });

  it('the agent program loads prom-client only for --metrics-server, and then on demand', () => {
    const { files, packages } = staticImports('agent/main.ts');
    expect([...packages].sort()).toEqual(['ws', 'zod']);
    expect([...files].map((f) => path.relative(root, f))).not.toContain('agent/metrics-server.ts');
    // metrics-server.ts itself imports prom-client dynamically: a static import would be hoisted
    // into the bundled agent (scripts/build.mjs keeps the package outside it) and load every time.
    expect([...staticImports('agent/metrics-server.ts').packages]).not.toContain('prom-client');
    expect(fs.readFileSync(path.join(root, 'agent/metrics-server.ts'), 'utf8')).toContain("await import('prom-client')");
    expect(fs.readFileSync(path.join(root, 'scripts/build.mjs'), 'utf8')).toMatch(/external: \[[^\]]*'prom-client'/);
  });

  it('the CLI imports the master and the agent only in the command that runs them', () => {
    const { packages, files } = staticImports('master/cli.ts');
    expect([...packages]).toEqual([]);
    const rel = [...files].map((f) => path.relative(root, f));
    expect(rel).not.toContain('master/master.ts');
    expect(rel).not.toContain('agent/agent.ts');
  });
});
