// The simulated agents of `npm run bench:fleet`: each holds its own Ed25519 key and signs every
// request as agent/control-plane.ts does (reports carry the RequestSequence `seq`), keeps the last
// ETag, flags its heartbeat on a check-in when it is due (`?heartbeat=1`), and reports what a real
// agent would: Progressing then Ready after a new desired version, now and then drift (corrected,
// or left alone), and the same body again, rarely, as a resend.
import { RequestSequence, generateAgentKey, signAgentRequest, type AgentKeyPair } from '../../../lib/agent-auth.ts';
import type { AgentReport, AppReport, DesiredState } from '../../../lib/api/schemas.ts';
import type { Client } from './client.ts';

export interface SimAgent {
  name: string;
  environment: string;
  region: string;
  key: AgentKeyPair;
  audience: string;
  seq: RequestSequence;
  etag: string | null;
  /** What the last desired state asked for, by app. */
  desired: Map<string, { version: string; digest: string }>;
  /** Apps still rolling out: reported Progressing, Ready next cycle. */
  progressing: Set<string>;
  /** An app with drift reported and left alone (suspended-like) until the next cycle clears it. */
  drifted: string | null;
  lastReport: { body: string; at: number } | null;
  /** When a check-in last carried the heartbeat. */
  lastHeartbeatAt: number;
}

export async function newAgent(name: string, environment: string, region: string): Promise<SimAgent> {
  return {
    name,
    environment,
    region,
    key: await generateAgentKey(),
    audience: 'flotilla',
    seq: new RequestSequence(),
    etag: null,
    desired: new Map(),
    progressing: new Set(),
    drifted: null,
    lastReport: null,
    lastHeartbeatAt: 0,
  };
}

export type CheckInResult = { status: number; changedApps: string[] };

/** GET /v1/agent/desired-state with If-None-Match; a 200 updates what the agent wants to run. */
export async function checkIn(client: Client, agent: SimAgent, tag = 'checkin', heartbeat = false): Promise<CheckInResult> {
  const path = `/v1/agent/desired-state${heartbeat ? '?heartbeat=1' : ''}`;
  const jwt = await signAgentRequest(agent.key, agent.name, agent.audience, { method: 'GET', path });
  const headers: Record<string, string> = { authorization: `Bearer ${jwt}` };
  if (agent.etag && tag !== 'checkin-full') headers['if-none-match'] = agent.etag;
  const res = await client.request(tag, 'GET', path, undefined, headers);
  if (heartbeat && (res.status === 200 || res.status === 304)) agent.lastHeartbeatAt = Date.now();
  if (res.status !== 200) return { status: res.status, changedApps: [] };
  const state = JSON.parse(res.body) as DesiredState;
  agent.etag = res.headers.get('etag');
  const changedApps: string[] = [];
  const next = new Map(state.apps.map((app) => [app.name, { version: app.version, digest: app.digest }]));
  for (const [app, want] of next) {
    const before = agent.desired.get(app);
    if (!before || before.digest !== want.digest) changedApps.push(app);
  }
  agent.desired = next;
  for (const app of changedApps) agent.progressing.add(app);
  return { status: 200, changedApps };
}

const OBJECTS = 14;

/** One app's report as the agent's reconciler words it (agent/reconciler.ts statusOf). */
function appReport(agent: SimAgent, app: string, want: { version: string; digest: string }, drift: 'none' | 'corrected' | 'open'): AppReport {
  const progressing = agent.progressing.has(app);
  const reason = progressing ? 'Progressing' : 'ReconciliationSucceeded';
  const message = progressing
    ? `Deployment ${app}/${app}: 1 of 3 replicas updated to ${want.version}`
    : `applied ${OBJECTS} objects; all healthy`;
  const report: AppReport = {
    name: app,
    version: want.version,
    digest: want.digest,
    phase: progressing ? 'Progressing' : 'Ready',
    reason,
    message,
    conditions: [{ type: 'Ready', status: progressing ? 'Unknown' : 'True', reason, message }],
    drift: [],
    counts: progressing ? { configured: 3, unchanged: OBJECTS - 3 } : { unchanged: OBJECTS },
  };
  if (drift !== 'none') {
    report.drift = [
      {
        object: `Deployment/${app}/${app}`,
        fields: [
          { path: 'spec.replicas', before: 3, after: 5 },
          { path: 'spec.template.spec.containers[0].image', before: `registry.example.com/team/${app}:${want.version}`, after: `registry.example.com/team/${app}:hotfix` },
        ],
        corrected: drift === 'corrected',
      },
    ];
    if (drift === 'corrected') report.counts = { configured: 1, unchanged: OBJECTS - 1 };
  }
  return report;
}

export function buildReport(agent: SimAgent, drift?: { app: string; corrected: boolean }): AgentReport {
  const apps = [...agent.desired.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([app, want]) => appReport(agent, app, want, drift?.app === app ? (drift.corrected ? 'corrected' : 'open') : 'none'));
  return { apps, agentVersion: 'bench-fleet/0.1.0' };
}

/** POST /v1/agent/reports, signed with the agent's next sequence number. */
export async function sendReport(client: Client, agent: SimAgent, body: string, tag: string): Promise<number> {
  const path = '/v1/agent/reports';
  const jwt = await signAgentRequest(agent.key, agent.name, agent.audience, { method: 'POST', path, body, seq: agent.seq.next() });
  const res = await client.request(tag, 'POST', path, body, { authorization: `Bearer ${jwt}` });
  if (res.status === 202 || res.status === 200) agent.lastReport = { body, at: Date.now() };
  return res.status;
}

/**
 * One cycle of an agent, as agent/agent.ts runs it: check in (carrying the heartbeat when due);
 * report when something changed (a new version: Progressing, then Ready the cycle after; drift),
 * else the same report again when the resend is due. Returns nothing: the client records each request.
 */
export async function cycle(client: Client, agent: SimAgent, options: { heartbeatMs: number; resendMs: number; driftChance: number; random: () => number }): Promise<void> {
  const { status, changedApps } = await checkIn(client, agent, 'checkin', Date.now() - agent.lastHeartbeatAt >= options.heartbeatMs);
  if (status !== 200 && status !== 304) return;
  if (changedApps.length > 0) {
    await sendReport(client, agent, JSON.stringify(buildReport(agent)), agent.lastReport ? 'report-changed' : 'report-first');
    return;
  }
  if (agent.progressing.size > 0) {
    agent.progressing.clear();
    await sendReport(client, agent, JSON.stringify(buildReport(agent)), 'report-changed');
    return;
  }
  if (agent.drifted) {
    // The drift left alone is gone the cycle after (corrected once resumed): a changed report.
    agent.drifted = null;
    await sendReport(client, agent, JSON.stringify(buildReport(agent)), 'report-changed');
    return;
  }
  if (agent.desired.size > 0 && options.random() < options.driftChance) {
    const apps = [...agent.desired.keys()];
    const app = apps[Math.floor(options.random() * apps.length)]!;
    const corrected = options.random() < 0.7;
    if (!corrected) agent.drifted = app;
    await sendReport(client, agent, JSON.stringify(buildReport(agent, { app, corrected })), 'report-drift');
    // A corrected drift is reported once; the next report (without it) is a change again.
    if (corrected) agent.drifted = app;
    return;
  }
  if (agent.lastReport && Date.now() - agent.lastReport.at >= options.resendMs) {
    await sendReport(client, agent, agent.lastReport.body, 'report-heartbeat');
  }
}
