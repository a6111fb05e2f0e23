// Gates on entering an environment: every check a promotion must pass, each with the evidence
// that decided it, so a refusal can say exactly which cluster or approval was missing. Pure.
import type { Phase } from '../../lib/api/schemas.ts';
import { isSoaked } from './soak.ts';

export interface GateConfig {
  /** Share (0..1] of the upstream environment's clusters that must run the version Ready; null: not required. */
  upstreamReadyShare: number | null;
  /** How long they must have been Ready, continuously. */
  soakSeconds: number;
  /** Approvals required from promoters other than the publisher. */
  approvals: number;
}
export interface ClusterStatusView {
  name: string;
  region: string;
  version: string | null;
  phase: Phase | 'Pending';
  /** When this version became Ready on it (continuously since). */
  readySince?: string;
}
export interface Approval {
  actor: string;
  reason: string;
  at: string;
}
export interface GateInput {
  version: string;
  config: GateConfig;
  upstream: { environment: string; clusters: ClusterStatusView[] } | null; // the upstream env's clusters that run the app (already filtered by the app's selector)
  release: { blocked: { reason: string; by: string } | null; publishedBy: string };
  approvals: Approval[];
  window: { open: boolean; detail: string };
  now: Date;
}
export interface GateResult {
  name: 'release-not-blocked' | 'upstream-ready' | 'window-open' | 'approvals';
  passed: boolean;
  detail: string;
  evidence?: Record<string, unknown>;
}

const NOT_REQUIRED = 'not required';

/** Every gate, in that order, each with a one-sentence detail and evidence: upstream-ready lists the clusters counted (name, readySince) and those not (name, phase, version); approvals lists the approvers counted and any approval by the publisher, which never counts. A gate not configured passes with detail "not required". */
export function evaluateGates(input: GateInput): GateResult[] {
  return [releaseNotBlocked(input), upstreamReady(input), windowOpen(input), approvalsGate(input)];
}


function releaseNotBlocked({ version, release }: GateInput): GateResult {
  const { blocked } = release;
  return blocked
    ? {
        name: 'release-not-blocked',
        passed: false,
        detail: `release ${version} is blocked by ${blocked.by}: ${blocked.reason}`,
        evidence: { blocked },
      }
    : { name: 'release-not-blocked', passed: true, detail: `release ${version} is not blocked` };
}

function upstreamReady({ version, config, upstream, now }: GateInput): GateResult {
  const share = config.upstreamReadyShare;
  if (upstream === null || share === null) return { name: 'upstream-ready', passed: true, detail: NOT_REQUIRED };
  const { environment, clusters } = upstream;
  if (clusters.length === 0) {
    // Nothing upstream has proven the version: passing vacuously would skip the stage entirely.
    return {
      name: 'upstream-ready',
      passed: false,
      detail: `no cluster of ${environment} runs the app`,
      evidence: { environment, share, soakSeconds: config.soakSeconds, counted: [], notCounted: [] },
    };
  }
  const soaked = clusters.filter((cluster) => isSoaked(cluster, version, config.soakSeconds, now));
  const notSoaked = clusters.filter((cluster) => !soaked.includes(cluster));
  // Compare the ratio itself: share * total carries rounding error (0.7 * 10 > 7).
  const passed = soaked.length / clusters.length >= share;
  return {
    name: 'upstream-ready',
    passed,
    detail:
      `${soaked.length} of ${clusters.length} clusters of ${environment} have run ${version} Ready for ` +
      `${config.soakSeconds} s (${percent(soaked.length / clusters.length)}; ${percent(share)} required)`,
    evidence: {
      environment,
      share,
      soakSeconds: config.soakSeconds,
      counted: soaked.map(({ name, readySince }) => ({ name, readySince })),
      notCounted: notSoaked.map(({ name, phase, version: running, readySince }) => ({
        name,
        phase,
        version: running,
        ...(readySince === undefined ? {} : { readySince }),
      })),
    },
  };
}

function percent(share: number): string {
  return `${Math.round(share * 1000) / 10}%`;
}

function windowOpen({ window }: GateInput): GateResult {
  return { name: 'window-open', passed: window.open, detail: window.detail };
}

function approvalsGate({ config, release, approvals }: GateInput): GateResult {
  // The first approval of each actor stands for them; repeating an approval adds no reviewer.
  const byActor = new Map<string, Approval>();
  for (const approval of approvals) {
    if (approval.actor !== release.publishedBy && !byActor.has(approval.actor)) byActor.set(approval.actor, approval);
  }
  const counted = [...byActor.values()];
  const byPublisher = approvals.filter((approval) => approval.actor === release.publishedBy);
  const evidence = { required: config.approvals, counted, byPublisher };
  if (config.approvals <= 0) return { name: 'approvals', passed: true, detail: NOT_REQUIRED, evidence };
  const names = counted.length ? ` (${counted.map((approval) => approval.actor).join(', ')})` : '';
  const publisherNote = byPublisher.length
    ? `; the approval by the publisher ${release.publishedBy} does not count`
    : '';
  return {
    name: 'approvals',
    passed: counted.length >= config.approvals,
    detail: `${counted.length} of ${config.approvals} required approvals${names}${publisherNote}`,
    evidence,
  };
}
