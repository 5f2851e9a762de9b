import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // `caliper` in a config a test loads is these sources, the copy the test's own master is made of
  // (the package's exports name dist/: a second copy, whose classes would fail instanceof checks).
  resolve: { alias: [{ find: /^caliper$/, replacement: fileURLToPath(new URL('./index.ts', import.meta.url)) }] },
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration files start masters and agent processes; two cores run two at a time well.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
