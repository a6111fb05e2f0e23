// Dashboard actions: each form is turned into the REST API request it stands for and sent through
// the same app in-process, with the session's token as its bearer. Authorization, validation, the
// rules and the audit trail are the API's own; the page shows the record it answers with, or its error.
import type { Hono } from 'hono';
import { badRequest } from '../errors.ts';
import type { UiContext } from './context.ts';

type Form = Record<string, string>;
interface ApiCall {
  method: 'POST' | 'PUT';
  path: string;
  body: Record<string, unknown>;
  /** Where the result page links back to. */
  back: string;
  title: string;
}

const segment = (form: Form, key: string) => {
  const value = form[key];
  if (!value) throw badRequest(`${key}: is required`);
  return encodeURIComponent(value);
};
/** A form's optional field: absent when empty, so the API's defaults apply. */
const optional = (form: Form, key: string) => (form[key] ? { [key]: form[key] } : {});

/** The API request of each action; unknown actions are a 400. */
export const ACTIONS: Record<string, (form: Form) => ApiCall> = {
  promote: (f) => ({
    method: 'POST',
    path: `/v1/apps/${segment(f, 'app')}/promotions`,
    body: { environment: f.environment, version: f.version, reason: f.reason, ...optional(f, 'region') },
    back: `/ui/apps/${segment(f, 'app')}`,
    title: `Promote ${f.app} to ${f.environment}`,
  }),
  rollback: (f) => ({
    method: 'POST',
    path: `/v1/apps/${segment(f, 'app')}/rollbacks`,
    body: { environment: f.environment, reason: f.reason, ...optional(f, 'region') },
    back: `/ui/apps/${segment(f, 'app')}`,
    title: `Roll back ${f.app} in ${f.environment}`,
  }),
  block: (f) => ({
    method: 'POST',
    path: `/v1/apps/${segment(f, 'app')}/releases/${segment(f, 'version')}/block`,
    body: { reason: f.reason, recall: f.recall === 'true' },
    back: `/ui/apps/${segment(f, 'app')}`,
    title: `${f.recall === 'true' ? 'Recall' : 'Block'} ${f.app} ${f.version}`,
  }),
  unblock: (f) => ({
    method: 'POST',
    path: `/v1/apps/${segment(f, 'app')}/releases/${segment(f, 'version')}/unblock`,
    body: { reason: f.reason },
    back: `/ui/apps/${segment(f, 'app')}`,
    title: `Unblock ${f.app} ${f.version}`,
  }),
  approve: (f) => ({
    method: 'POST',
    path: `/v1/apps/${segment(f, 'app')}/releases/${segment(f, 'version')}/approvals`,
    body: { environment: f.environment, reason: f.reason },
    back: `/ui/apps/${segment(f, 'app')}`,
    title: `Approve ${f.app} ${f.version} for ${f.environment}`,
  }),
  suspend: (f) => ({
    method: 'POST',
    path: `/v1/clusters/${segment(f, 'cluster')}/suspend`,
    body: { reason: f.reason, ...optional(f, 'app'), ...optional(f, 'until') },
    back: `/ui/clusters/${segment(f, 'cluster')}`,
    title: `Suspend ${f.app ? `${f.app} on ` : ''}${f.cluster}`,
  }),
  resume: (f) => ({
    method: 'POST',
    path: `/v1/clusters/${segment(f, 'cluster')}/resume`,
    body: { reason: f.reason, ...optional(f, 'app') },
    back: `/ui/clusters/${segment(f, 'cluster')}`,
    title: `Resume ${f.app ? `${f.app} on ` : ''}${f.cluster}`,
  }),
  ...Object.fromEntries(
    (['pause', 'resume', 'abort'] as const).map((verb) => [
      verb,
      (f: Form): ApiCall => ({
        method: 'POST',
        path: `/v1/apps/${segment(f, 'app')}/rollouts/${segment(f, 'rollout')}/${verb}`,
        body: { reason: f.reason },
        back: `/ui/apps/${segment(f, 'app')}/rollouts/${segment(f, 'rollout')}`,
        title: `${verb[0]!.toUpperCase()}${verb.slice(1)} rollout ${f.rollout} of ${f.app}`,
      }),
    ]),
  ),
  freeze: (f) => ({ method: 'PUT', path: '/v1/freeze', body: { reason: f.reason, ...optional(f, 'until') }, back: '/ui', title: 'Freeze every environment' }),
  unfreeze: (f) => ({ method: 'POST', path: '/v1/freeze/lift', body: { reason: f.reason }, back: '/ui', title: 'Lift the freeze' }),
};

export interface ActionResult {
  call: ApiCall;
  status: number;
  /** The API's answer: the resulting record, or its error envelope. */
  body: unknown;
}

/** Sends the action's API request through `api` as the session's caller. */
export async function takeAction(api: Hono<any>, c: UiContext, action: string, form: Form, token: string): Promise<ActionResult> {
  const build = Object.hasOwn(ACTIONS, action) ? ACTIONS[action] : undefined;
  if (!build) throw badRequest(`no action ${action}`);
  const call = build(form);
  const request = new Request(new URL(call.path, c.req.url), {
    method: call.method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-request-id': c.get('requestId') },
    body: JSON.stringify(call.body),
  });
  const response = await api.fetch(request, c.env);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: shown as text
  }
  return { call, status: response.status, body };
}
