// GitHub commit statuses for the events about a release that names its source repository and
// revision: the state, a description of at most 140 characters, a context per environment and a
// link to the dashboard. https://docs.github.com/rest/commits/statuses
import type { Event } from '../../lib/api/schemas.ts';
import type { Storage } from '../storage/index.ts';
import { cut } from './slack.ts';

export type CommitState = 'error' | 'failure' | 'pending' | 'success';

/** What each event means for the commit, or no status at all. */
const STATES: Record<string, CommitState> = {
  'release.published': 'pending',
  'release.blocked': 'error',
  'release.recalled': 'error',
  'promotion.promoted': 'success',
  'promotion.rollback': 'error',
  'rollout.started': 'pending',
  'rollout.completed': 'success',
  'rollout.halted': 'failure',
  'rollout.rolled-back': 'failure',
  'rollout.aborted': 'error',
  'reconcile.failed': 'failure',
  'notification.test': 'pending',
};

export const commitStateOf = (type: string): CommitState | null => STATES[type] ?? null;

/** The release an event is about: its app and version. */
export function releaseOf(event: Event): { app: string; version: string } | null {
  const version = event.data?.version ?? event.data?.toVersion;
  return event.app && typeof version === 'string' ? { app: event.app, version } : null;
}

/** owner/repo from https://github.com/o/r(.git), git@github.com:o/r.git, or o/r; null otherwise. */
export function repositoryOf(source: string | undefined): { owner: string; repo: string } | null {
  if (!source) return null;
  const match = /^(?:https?:\/\/[^/]+\/|git@[^:]+:|ssh:\/\/git@[^/]+\/)?([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+?)(?:\.git)?\/?$/.exec(source.trim());
  return match ? { owner: match[1]!, repo: match[2]! } : null;
}

export const isCommitSha = (revision: string | undefined): revision is string => typeof revision === 'string' && /^[0-9a-f]{7,40}$/i.test(revision);

export function commitStatus(event: Event, context: string | undefined, dashboardUrl: string | null): { state: CommitState; description: string; context: string; target_url?: string } {
  const state = commitStateOf(event.type) ?? 'pending';
  return {
    state,
    description: cut(event.message, 140),
    context: context ?? `flotilla${event.environment ? `/${event.environment}` : ''}`,
    ...(dashboardUrl ? { target_url: dashboardUrl } : {}),
  };
}

export const statusUrl = (apiUrl: string, target: { owner: string; repo: string; sha: string }) =>
  `${apiUrl.replace(/\/+$/, '')}/repos/${encodeURIComponent(target.owner)}/${encodeURIComponent(target.repo)}/statuses/${target.sha}`;

/** The commit of a release: its source repository and revision, when it has both. */
export async function releaseCommit(storage: Storage, app: string, version: string): Promise<{ owner: string; repo: string; sha: string } | null> {
  const release = await storage.apps.getRelease(app, version);
  const repository = repositoryOf(release?.source);
  return repository && isCommitSha(release?.revision) ? { ...repository, sha: release.revision } : null;
}
