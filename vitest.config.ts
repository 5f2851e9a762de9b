import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // `caliper` in a config a test loads is these sources, the copy the test's own master is made of
  // (the package's exports name dist/: a second copy, whose classes would fail instanceof checks).
  resolve: { alias: [{ find: /^caliper$/, replacement: fileURLToPath(new URL('./index.ts', import.meta.url)) }] },
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Each worker process runs its files one after another in the same module graph instead of
    // importing everything again per file: on this 2-core machine the import phase went from 120 s to
    // 14 s and the whole vitest run from 538 s to 449 s (one run each). Files must leave the process as they
    // found it (a changed process.env is restored in afterAll; fake timers are put back).
    isolate: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration files start masters and agent processes; two cores run two at a time well.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
