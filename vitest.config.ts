import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{functions,agent,cli,lib,infra,test}/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Tests that share the real clusters and registries run in forks; each file owns its names.
    pool: 'forks',
    globalSetup: ['test/env/global-setup.ts'],
  },
});
