import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 60_000,
    // expect.poll waits up to 1 s by default: too short for a browser round trip on a loaded
    // two-core machine. A passing poll returns as soon as it passes.
    expect: { poll: { timeout: 15_000 } },
    hookTimeout: 120_000,
    // Files run in parallel processes, each on its own database of the shared test cluster.
    pool: 'forks',
    maxWorkers: 2,
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
