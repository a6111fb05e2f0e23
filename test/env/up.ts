// `npm run env:up`: starts the real test environment and leaves it running for a person to poke
// at, until Ctrl-C (or SIGTERM), then tears it down.
import { describeTestEnv, MissingBinariesError, startTestEnv } from './harness.ts';

async function main(): Promise<void> {
  console.log('starting the Flotilla test environment (3 clusters, 3 registries, moto)...');
  let running;
  try {
    running = await startTestEnv({ log: (line) => console.log(`  ${line}`) });
  } catch (error) {
    console.error(error instanceof MissingBinariesError ? error.message : error);
    process.exit(1);
  }
  console.log(`\nready in ${(running.startupMs / 1000).toFixed(1)} s; state in ${running.stateDir}\n`);
  for (const line of describeTestEnv(running.env)) console.log(line);
  console.log(`\nthe TestEnv object tests receive: ${running.stateDir}/test-env.json`);
  console.log('Ctrl-C to stop and remove everything (FLOTILLA_TEST_ENV_KEEP=1 keeps the state directory).');

  const watchForCrashes = setInterval(() => {
    const crashed = running.unexpectedExits();
    if (crashed.length > 0) {
      console.error(`processes exited: ${crashed.join(', ')}; logs in ${running.env.logDir}`);
      clearInterval(watchForCrashes);
    }
  }, 2_000);

  const shutdown = async (signal: string) => {
    clearInterval(watchForCrashes);
    console.log(`\n${signal}: stopping...`);
    const keepState = process.env.FLOTILLA_TEST_ENV_KEEP === '1';
    await running.stop({ keepState });
    if (keepState) console.log(`state kept in ${running.stateDir}`);
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}

await main();
