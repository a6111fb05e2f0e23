// The control plane's clock: what must happen when time passes with no request to notice it (a
// rollout's soak ending, a wave's deadline passing). One code path, two triggers: an EventBridge
// schedule on AWS (infra/, functions/lambda.ts `clock`) and a timer under `npm start`.
import type { Services } from './context.ts';
import { maintainFleet } from './domain/fleet.ts';
import { tickRollouts } from './domain/rollouts.ts';

/** One run: advance the active rollouts, then keep the fleet counts exact (storage/fleet.ts). */
export async function runClock(services: Services): Promise<{ rollouts: number; recounted: number; scanned: number }> {
  const rollouts = await tickRollouts(services);
  return { rollouts, ...(await maintainFleet(services)) };
}
