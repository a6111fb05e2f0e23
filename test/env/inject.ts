// For test files: the running real test environment, or a clear failure if it was not started.
import { inject } from 'vitest';
import type { TestEnv } from './types.ts';
import './types.ts';

export function requireTestEnv(): TestEnv {
  const env = inject('testEnv') as TestEnv | undefined;
  if (!env) {
    throw new Error(
      'The real test environment is not running: its binaries are missing (run `npm run env:setup`) ' +
        'or FLOTILLA_TEST_ENV=off was set. See test/env/README.md.',
    );
  }
  return env;
}
