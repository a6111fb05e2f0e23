// Fleet-wide recall: blocking a release with `recall` moves every pin that holds it, in every
// environment and region (and every wave group), back to the newest good version of that pin's
// history, as rollback records; rollouts holding it stop. One audit event lists what moved.
import type { PromotionRecord, Release } from '../../lib/api/schemas.ts';
import type { Services } from '../context.ts';
import { pinName } from '../model.ts';
import { ConflictError } from '../storage/index.ts';
import { refreshDesired } from './desired.ts';
import { newEventId, recordEvent } from './events.ts';
import { recallRollouts } from './rollouts.ts';

/** Recalls a blocked release; again (a retry) moves what is still left and rewrites the one event. */
export async function recall(services: Services, actor: string, release: Release, reason: string): Promise<Release> {
  const { storage } = services;
  const now = services.now();
  const marked = (await storage.apps.markRecalled(release.app, release.version, { reason, by: actor, at: now.toISOString(), eventId: newEventId(now) }))!;
  const recalled = marked.recalled!;
  const environments = (await storage.environments.listPolicies(release.app)).map((policy) => policy.environment);
  const releases = await storage.apps.listReleases(release.app, true);
  const good = new Map(releases.filter((candidate) => !candidate.blocked).map((candidate) => [candidate.version, candidate]));
  const moved: { environment: string; pin: string; from: string; to: string }[] = [];
  for (const environment of environments) {
    const records = await storage.promotions.all(release.app, environment);
    const byPin = new Map<string, PromotionRecord[]>();
    for (const record of [...records].sort((a, b) => a.seq - b.seq)) byPin.set(pinName(record), [...(byPin.get(pinName(record)) ?? []), record]);
    for (const [pin, history] of byPin) {
      const head = history.at(-1)!;
      if (head.toVersion !== release.version) {
        if (head.recall === recalled.eventId) moved.push({ environment, pin, from: head.fromVersion ?? release.version, to: head.toVersion });
        continue;
      }
      const target = [...history].reverse().find((record) => record.toVersion !== release.version && good.has(record.toVersion));
      if (!target) continue; // nothing good behind it: resolution already skips the blocked release
      const record: PromotionRecord = {
        app: release.app,
        environment,
        region: head.region,
        ...(head.group ? { group: head.group, selector: head.selector } : {}),
        seq: head.seq + 1,
        fromVersion: release.version,
        toVersion: target.toVersion,
        digest: good.get(target.toVersion)!.digest,
        actor,
        reason: `recall of ${release.version}: ${recalled.reason}`,
        kind: 'rollback',
        at: now.toISOString(),
        gates: [],
        recall: recalled.eventId,
        eventId: recalled.eventId,
      };
      try {
        await storage.promotions.append(record);
        moved.push({ environment, pin, from: release.version, to: target.toVersion });
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err; // someone moved this pin meanwhile: theirs stands
      }
    }
    await refreshDesired(storage, release.app, [environment]);
  }
  await recallRollouts(services, release.app, release.version, environments, recalled.reason, actor);
  await recordEvent(
    services,
    {
      type: 'release.recalled',
      actor: recalled.by,
      app: release.app,
      message: `${recalled.by} recalled ${release.app}@${release.version} from ${moved.length} pin${moved.length === 1 ? '' : 's'}: ${recalled.reason}`,
      data: { version: release.version, moved },
      at: recalled.at,
    },
    recalled.eventId,
  );
  return marked;
}
