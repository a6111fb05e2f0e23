// Benchmark (not a test): how fast a rollout moves through real clusters. With the control plane
// and one real agent per cluster (dev, prod-us, prod-eu) as in the end-to-end stories, each round
// publishes a release and promotes it to prod (waves us then eu, soak SOAK_SECONDS). Per wave it
// prints the time from the wave moving (the promotion, for the first) to every cluster of the wave
// reporting the version Ready, in seconds and in agent check-in intervals (target: at most 2), and
// the time from the previous wave's soak ending to this wave moving (the rollout clock's share).
//   npm run bench:rollout        FLOTILLA_BENCH_ROUNDS rounds (default 3)
// Times come from the control plane's own records: a wave's movedAt, and each cluster's readySince
// (when its Ready report was stored), so polling adds nothing to them. Prints, asserts nothing.
import { loadavg } from 'node:os';
import { startTestEnv } from '../env/harness.ts';
import { listedRollout, prodSpec, publish, setUpFleet, waitForRollout, SOAK_SECONDS } from '../e2e/rollout-story.ts';
import { INTERVAL_SECONDS, World } from '../e2e/world.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const ROUNDS = Number(process.env.FLOTILLA_BENCH_ROUNDS ?? 3);
// FLOTILLA_CLOCK_SECONDS=15 measures `npm start`'s default clock instead of one as fast as the check-ins.
const CLOCK_SECONDS = Number(process.env.FLOTILLA_CLOCK_SECONDS ?? INTERVAL_SECONDS);
const WAVES = ['us', 'eu'] as const;
const CLUSTERS_OF: Record<(typeof WAVES)[number], string[]> = { us: ['prod-us'], eu: ['prod-eu'] };

interface WaveSample {
  /** The wave moved → every cluster of it reported the version Ready. */
  toReady: number;
  /** The previous wave soaked (or the promotion was sent, for the first) → this wave moved. */
  toMove: number;
}

const say = (line: string) => console.log(line);
say(`Starting the test environment; agents check in every ${INTERVAL_SECONDS} s, the rollout clock runs every ${CLOCK_SECONDS} s, waves soak ${SOAK_SECONDS} s`);
const running = await startTestEnv();
const world = await World.create(running.env, () => {}, { app: 'bench-rollout', agentNamespace: 'flotilla-bench-rollout', clockSeconds: CLOCK_SECONDS });
const samples: Record<string, WaveSample[]> = { us: [], eu: [] };
let failed = false;
try {
  // No gates: the bench measures the waves, not the upstream soak or approvals.
  const tokens = await setUpFleet(world, () => {}, { ...prodSpec(), gates: { upstreamReadyShare: null, soakSeconds: 0, approvals: 0 } });
  for (let round = 0; round < ROUNDS; round++) {
    const version = `1.0.${round}`;
    await publish(world, tokens.ci, version);
    const sent = Date.now();
    const started = await world.apiOk('POST', `/v1/apps/${world.app}/promotions`, tokens.alice, { environment: 'prod', version, reason: `bench round ${round + 1}` });
    const id = started.body.id as string;
    await waitForRollout(world, id, 'completed', (rollout) => rollout.status === 'completed', 180_000);
    const rollout = await listedRollout(world, id);
    let previousSoaked = sent;
    const line: string[] = [];
    for (const [index, wave] of WAVES.entries()) {
      const movedAt = Date.parse(rollout.waves[index].movedAt);
      const readyAt = Math.max(
        ...(await Promise.all(
          CLUSTERS_OF[wave].map(async (cluster) => {
            const status = (await world.apiOk('GET', `/v1/clusters/${cluster}`, world.adminToken)).body.apps[world.app];
            if (status?.version !== version || !status.readySince) throw new Error(`${cluster} does not run ${version} Ready`);
            return Date.parse(status.readySince);
          }),
        )),
      );
      const sample = { toReady: (readyAt - movedAt) / 1000, toMove: (movedAt - previousSoaked) / 1000 };
      samples[wave]!.push(sample);
      previousSoaked = readyAt + SOAK_SECONDS * 1000;
      line.push(`${wave}: moved +${sample.toMove.toFixed(1)} s, Ready ${sample.toReady.toFixed(1)} s (${(sample.toReady / INTERVAL_SECONDS).toFixed(2)} intervals)`);
    }
    say(`round ${round + 1} (${version}, ${id}): ${line.join('; ')}`);
  }
} catch (err) {
  failed = true;
  console.error(`BENCH FAILED: ${(err as Error).message}\nprocess logs: ${world.dir}/logs and ${running.env.logDir}`);
} finally {
  await world.stop();
  await running.stop({ keepState: failed });
}

if (!failed) {
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  say(`\nmedian of ${ROUNDS} rounds (check-in interval ${INTERVAL_SECONDS} s, soak ${SOAK_SECONDS} s, load ${loadavg()[0]!.toFixed(2)}):`);
  say('| wave | previous soak ended (or promotion sent) → wave moved | wave moved → all its clusters Ready | in intervals | target |');
  say('|---|---|---|---|---|');
  for (const wave of WAVES) {
    const toReady = median(samples[wave]!.map((sample) => sample.toReady));
    const toMove = median(samples[wave]!.map((sample) => sample.toMove));
    const intervals = toReady / INTERVAL_SECONDS;
    say(`| ${wave} | ${toMove.toFixed(1)} s | ${toReady.toFixed(1)} s | ${intervals.toFixed(2)} | ≤ 2 ${intervals <= 2 ? '(met)' : '(missed)'} |`);
  }
  const total = WAVES.reduce((sum, wave) => sum + median(samples[wave]!.map((s) => s.toMove + s.toReady)), 0);
  say(`promotion → last wave Ready: ${(total + SOAK_SECONDS * (WAVES.length - 1)).toFixed(1)} s with ${WAVES.length - 1} soak(s) of ${SOAK_SECONDS} s between waves`);
}
process.exit(failed ? 1 : 0);
