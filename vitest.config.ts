import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    pool: 'forks',
    // Child-process tests (CLIs, crash tests, fleets) start tsx and TypeScript: slow on a loaded two-core box.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: keep the file-level parallelism modest so timing-sensitive tests stay honest.
    maxWorkers: 2,
  },
});
