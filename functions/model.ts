// The records the control plane keeps, as the domain sees them. The API's own shapes (apps,
// releases, promotion records, events) are in lib/api/schemas.ts; these are the ones that carry
// more than the API shows (keys, bookkeeping) or exist only inside the control plane.
import type { JWK } from 'jose';
import type { AppSpec, AppStatusSummary, Grant, SignatureVerification } from '../lib/api/schemas.ts';

/** Who suspended reconciliation, why, since and until when (null: until resumed). */
export interface Suspension {
  by: string;
  reason: string;
  at: string;
  until: string | null;
  /** The id of the suspension's event. */
  eventId?: string;
}

/**
 * One app's status on one cluster (CLUSTER#<name> / STATUS#<app>): written only when it changes,
 * found per (environment, app) through the byCollection index.
 */
export type AppStatusRecord = AppStatusSummary & { app: string; cluster: string; environment?: string; region: string; driftDigest?: string };

/** The cluster as stored (CLUSTER#<name> / #CLUSTER): spec, agent key, revocation, suspension. Small. */
export interface ClusterRecord {
  name: string;
  environment: string;
  region: string;
  labels: Record<string, string>;
  createdAt: string;
  publicKey: JWK | null;
  keyId: string | null;
  revoked: boolean;
  /** Epoch seconds of the last revocation: registration tokens issued before it are void. */
  revokedAt?: number;
  /** The last revocation: who, why, when, and its event. */
  revocation?: { by: string; reason: string; at: string; eventId: string };
  suspended: Suspension | null;
  suspendedApps: Record<string, Suspension>;
}

/** A report being stored: who holds the right to write the cluster's app statuses, until when. */
export interface ReportClaim {
  id: string;
  hash: string;
  /** Epoch milliseconds after which another report may take over (the claimant crashed). */
  until: number;
  /** The outbox of the report's events (S3), fixed before anything of it is written. */
  pendingEvents: string | null;
}

/**
 * The cluster's heartbeat and report bookkeeping (CLUSTER#<name> / #STATUS): a few hundred bytes
 * whatever the number of apps, so a heartbeat is one write unit.
 */
export interface ClusterStatusRecord {
  lastSeen: string | null;
  /** Hash of the last stored report: an identical report stores nothing. */
  statusHash: string | null;
  reportKey: string | null;
  reportedAt: string | null;
  /** When the agent signed the last stored report (seconds): an older report is a replay. */
  reportIssuedAt?: number;
  /** The agent's counter on the last stored report (the signed `seq` claim): a lower one is a replay. */
  reportSeq?: number;
  /** The outbox: where the events of the last stored report wait (S3) until they are all in the table. */
  pendingEvents?: string | null;
  claim?: ReportClaim;
}

export const EMPTY_STATUS: ClusterStatusRecord = { lastSeen: null, statusHash: null, reportKey: null, reportedAt: null };

/** A cluster with its status: what the API shows and the gates read. */
export interface ClusterState {
  cluster: ClusterRecord;
  status: ClusterStatusRecord;
  apps: Record<string, AppStatusRecord>;
}

export interface ClusterSpec {
  environment: string;
  region: string;
  labels: Record<string, string>;
}

/** A cluster as first created: no agent yet, not suspended. */
export function newClusterRecord(name: string, spec: ClusterSpec, createdAt: string): ClusterRecord {
  return { name, ...spec, createdAt, publicKey: null, keyId: null, revoked: false, suspended: null, suspendedApps: {} };
}

/** The report order: the agent's signed counter when it sends one, else the second it signed the report. */
export interface ReportOrder {
  issuedAt: number;
  seq?: number;
}

/** How an app moves in an environment: tracking a semver range, or manual (track null). */
export interface PolicyRecord {
  app: string;
  environment: string;
  track: string | null;
  /** The environment's signature requirement for this app (on top of the app's own); absent: none. */
  verify?: SignatureVerification | null;
  updatedAt: string;
}

/** What every cluster of an environment needs to resolve one app: the spec plus the pins and the tracked version. */
export interface DesiredEntry {
  app: string;
  spec: AppSpec;
  /** Environment-wide version: the environment pin, else the highest non-blocked release in the tracked range. */
  version: { version: string; digest: string } | null;
  regions: Record<string, { version: string; digest: string }>;
  /** Pins of rollout waves that group clusters by label selector, in wave order. */
  groups?: { name: string; selector: Record<string, string>; version: string; digest: string }[];
  /** The environment's signature requirement (the policy's `verify`); the app's own is in `spec`. */
  verify?: SignatureVerification;
  /** The app's variables: this environment's, and every cluster's (each cluster picks its own). */
  values?: { environment: Record<string, string>; clusters: Record<string, Record<string, string>> };
}

/** An API token the control plane issued (the token itself is never stored). */
export interface TokenRecord {
  id: string;
  subject: string;
  grants: Grant[];
  issuedAt: string;
  expiresAt: string;
  issuedBy: string;
  revoked: boolean;
}

/** Which pin a promotion record moves: a wave group's (`@<wave>`), a region's, or the environment's (`*`). */
export const pinName = (record: { region: string | null; group?: string }) => (record.group ? `@${record.group}` : (record.region ?? '*'));
