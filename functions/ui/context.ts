// What dashboard handlers share: their typed context, the page-query parsing every list page does,
// and whether the viewer may take an action (the API's own authorization rule, asked ahead).
import type { Context } from 'hono';
import { z } from 'zod';
import { Name } from '../../lib/api/schemas.ts';
import { isAllowed, type Permission, type Scope } from '../auth/authorize.ts';
import type { AppEnv } from '../context.ts';
import { badRequest } from '../errors.ts';
import type { Viewer } from './layout.tsx';

export type UiEnv = { Variables: AppEnv['Variables'] & { viewer: Viewer } };
export type UiContext = Context<UiEnv>;

/** Whether to show an action: the API decides again when it is taken. */
export const may = (c: UiContext, permission: Permission, scope: Scope = {}) => isAllowed(c.get('viewer').principal.grants, permission, scope);

/** A path parameter that names an app, environment or cluster; anything else is a 400 page. */
export function nameParam(c: UiContext, key: string): string {
  const parsed = Name.safeParse(c.req.param(key));
  if (!parsed.success) throw badRequest(`${key}: ${parsed.error.issues[0]!.message}`);
  return parsed.data;
}

const Cursor = z.string().max(2048).regex(/^[A-Za-z0-9_-]+$/);

/** An optional cursor query parameter; a malformed one is a 400 page. */
export function cursorParam(c: UiContext, key = 'cursor'): string | undefined {
  const value = c.req.query(key);
  if (value === undefined || value === '') return undefined;
  if (!Cursor.safeParse(value).success) throw badRequest(`${key}: not a cursor of this page`);
  return value;
}

/** An optional query parameter that must be a name when given. */
export function nameQuery(c: UiContext, key: string): string | undefined {
  const value = c.req.query(key);
  if (value === undefined || value === '') return undefined;
  const parsed = Name.safeParse(value);
  if (!parsed.success) throw badRequest(`${key}: ${parsed.error.issues[0]!.message}`);
  return parsed.data;
}
