// vitest globalSetup: starts the real test environment once per `vitest run` and provides it to
// every test file as inject('testEnv'). Set FLOTILLA_TEST_ENV=off to skip it for runs that only
// need unit tests.
import type { TestProject } from 'vitest/node';
import { MissingBinariesError, startTestEnv, type RunningTestEnv } from './harness.ts';
import './types.ts';

/** The oldest Node the project supports (package.json engines); CI runs 24 and 22. */
const MIN_NODE_MAJOR = 22;

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < MIN_NODE_MAJOR) {
    throw new Error(
      `Flotilla needs Node ${MIN_NODE_MAJOR} or later and this is Node ${process.versions.node}: ` +
        '`bash test/env/setup` installs Node 24 into ~/.cache/flotilla-env; put ~/.cache/flotilla-env/node/24/bin first on PATH',
    );
  }
  if (process.env.FLOTILLA_TEST_ENV === 'off') {
    console.warn('[test-env] FLOTILLA_TEST_ENV=off: not starting the real test environment');
    return undefined;
  }
  let running: RunningTestEnv;
  try {
    running = await startTestEnv({
      log: process.env.FLOTILLA_TEST_ENV_VERBOSE ? (line) => console.log(`[test-env] ${line}`) : undefined,
    });
  } catch (error) {
    if (error instanceof MissingBinariesError) {
      // Tests that need none of the environment still run; those that inject it fail with
      // this same message (see requireTestEnv in env.ts).
      console.warn(`[test-env] ${error.message}`);
      return undefined;
    }
    throw error;
  }
  console.log(`[test-env] started in ${(running.startupMs / 1000).toFixed(1)} s; process logs in ${running.env.logDir}`);
  project.provide('testEnv', running.env);

  // Signals end the run without teardown; stop the environment ourselves, then let the
  // default action happen. The harness's 'exit' hook and watchdog cover anything harder.
  const onSignal = (signal: NodeJS.Signals) => {
    void running.stop({ keepState: true }).finally(() => {
      console.error(`[test-env] stopped on ${signal}; process logs kept in ${running.env.logDir}`);
      process.kill(process.pid, signal);
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  return async () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    const crashed = running.unexpectedExits();
    const failed = project.vitest.state.getCountOfFailedTests() > 0 || crashed.length > 0 || process.env.FLOTILLA_TEST_ENV_KEEP === '1';
    await running.stop({ keepState: failed });
    if (crashed.length > 0) console.error(`[test-env] processes exited during the run: ${crashed.join(', ')}`);
    if (failed) console.error(`[test-env] process logs of the real test environment kept in ${running.env.logDir}`);
  };
}
