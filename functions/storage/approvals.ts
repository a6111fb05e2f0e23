// Approvals of a release for an environment (APPROVAL#<app>#<version> / <env>#<actor>): one per
// approver, so approving twice, or at the same time, counts once.
import type { Approval } from '../../lib/api/schemas.ts';
import { approvalsPartition, keys, prefixes } from './keys.ts';
import type { Table } from './table.ts';

export type ApprovalRecord = Approval & { eventId: string };

export class ApprovalStorage {
  constructor(private readonly table: Table) {}

  /** Records the approval unless this actor already approved; returns the one that stands. */
  async add(approval: ApprovalRecord): Promise<ApprovalRecord> {
    const key = keys.approval(approval.app, approval.version, approval.environment, approval.actor);
    if (await this.table.create({ ...key, type: 'approval', ...approval })) return approval;
    return (await this.table.get<ApprovalRecord>(key, true)) ?? approval;
  }

  /** The approvals of a release for one environment (strongly consistent). */
  list(app: string, version: string, environment: string) {
    return this.table.partition<ApprovalRecord>(approvalsPartition(app, version), prefixes.approvalsFor(environment), { consistent: true });
  }
}
