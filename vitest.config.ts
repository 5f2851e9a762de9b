import { defineConfig } from 'vitest/config';

export default defineConfig({
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
