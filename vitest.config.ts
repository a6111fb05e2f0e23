import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{functions,agent,cli,lib,infra,test}/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Tests that share the real clusters and registries run in forks; each file owns its names.
    pool: 'forks',
    // Two at a time on the 2-core CI machine (the default there would be one): most of a file's time
    // is waiting on real servers and agent intervals, so two overlap well.
    maxWorkers: 2,
    globalSetup: ['test/env/global-setup.ts'],
  },
});
