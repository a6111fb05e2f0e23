// The control plane's clock: what must happen when time passes with no request to notice it (a
// rollout's soak ending, a wave's deadline passing). One code path, two triggers: an EventBridge
// schedule on AWS (infra/, functions/lambda.ts `clock`) and a timer under `npm start`.
import type { Services } from './context.ts';
import { tickRollouts } from './domain/rollouts.ts';

export async function runClock(services: Services): Promise<{ rollouts: number }> {
  return { rollouts: await tickRollouts(services) };
}
