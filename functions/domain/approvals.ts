// Four eyes: approvals of a release for an environment, from promoters other than its publisher.
import type { Approval, ApprovalInput } from '../../lib/api/schemas.ts';
import type { Services } from '../context.ts';
import { forbidden } from '../errors.ts';
import { requireRelease } from './apps.ts';
import { requireAppAndEnvironment } from './environments.ts';
import { newEventId, recordEvent } from './events.ts';

/** Approves; the same approver again is the same approval. The publisher may never approve its own release. */
export async function approve(services: Services, actor: string, app: string, version: string, input: ApprovalInput): Promise<Approval> {
  await requireAppAndEnvironment(services, app, input.environment);
  const release = await requireRelease(services, app, version, true);
  if (release.publishedBy === actor) throw forbidden(`${actor} published ${app}@${version} and may not approve it`);
  const now = services.now();
  const approval = await services.storage.approvals.add({
    app,
    version: release.version,
    environment: input.environment,
    actor,
    reason: input.reason,
    at: now.toISOString(),
    eventId: newEventId(now),
  });
  await recordEvent(
    services,
    {
      type: 'release.approved',
      actor: approval.actor,
      app,
      environment: approval.environment,
      message: `${approval.actor} approved ${app}@${approval.version} for ${approval.environment}: ${approval.reason}`,
      data: { version: approval.version },
      at: approval.at,
    },
    approval.eventId,
  );
  const { eventId: _eventId, ...view } = approval;
  return view;
}

export async function listApprovals(services: Services, app: string, version: string, environment: string): Promise<Approval[]> {
  await requireAppAndEnvironment(services, app, environment);
  const approvals = await services.storage.approvals.list(app, version, environment);
  return approvals.map(({ eventId: _eventId, ...approval }) => approval);
}
