// Wait: polls a set of objects until every one is healthy (rules in health.ts), one has failed, or
// the time is up.
import { sleep } from '../../lib/sleep.ts';
import type { ManagerContext } from './context.ts';
import { healthOf, summarize, type HealthStatus, type ObjectHealth } from './health.ts';
import { subjectOf, type ObjectRef } from './objects.ts';

export interface WaitOptions {
  /** Between polls. */
  intervalMs: number;
  /** Give up after this long; 0 checks once. */
  timeoutMs: number;
}

export const defaultWaitOptions: WaitOptions = { intervalMs: 1000, timeoutMs: 60_000 };

export interface WaitResult {
  /** Ready only when every object is. */
  status: HealthStatus;
  objects: ObjectHealth[];
}

/**
 * Polls until every object is Ready, one has Failed, or the timeout passes. A timeout is not an
 * error here: the result says Progressing and the caller decides what that means.
 */
export async function waitForSet(context: ManagerContext, refs: ObjectRef[], options: Partial<WaitOptions> = {}): Promise<WaitResult> {
  const { intervalMs, timeoutMs } = { ...defaultWaitOptions, ...options };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const objects = await checkOnce(context, refs);
    const status = summarize(objects);
    if (status !== 'Progressing' || Date.now() + intervalMs > deadline) return { status, objects };
    await sleep(intervalMs);
  }
}

function checkOnce({ client }: ManagerContext, refs: ObjectRef[]): Promise<ObjectHealth[]> {
  return Promise.all(
    refs.map(async function checkObject(ref): Promise<ObjectHealth> {
      const live = await client.get(ref);
      if (!live) return { subject: subjectOf(ref), status: 'Progressing', message: 'not found' };
      return healthOf(live);
    }),
  );
}
