// API tokens the control plane issues, and their revocation.
import type { IssuedToken, TokenInput } from '../../lib/api/schemas.ts';
import type { Services } from '../context.ts';
import type { TokenRecord } from '../model.ts';
import { collections } from '../storage/keys.ts';
import { newEventId, recordEvent } from './events.ts';
import { decodeCursor, encodeCursor, type Page, type PageRequest } from './paging.ts';

export async function issueToken(services: Services, actor: string, input: TokenInput): Promise<IssuedToken> {
  const minted = await services.tokens.mintUserToken(input);
  const expiresAt = minted.expiresAt.toISOString();
  await services.storage.tokens.put({
    id: minted.id,
    subject: input.subject,
    grants: input.grants,
    issuedAt: services.now().toISOString(),
    expiresAt,
    issuedBy: actor,
    revoked: false,
  });
  await recordEvent(services, {
    type: 'token.issued',
    actor,
    message: `${actor} issued token ${minted.id} for ${input.subject} (${input.grants.map((grant) => grant.role).join(', ')})`,
    data: { id: minted.id, subject: input.subject, grants: input.grants },
  });
  return { id: minted.id, token: minted.token, subject: input.subject, grants: input.grants, expiresAt };
}

/** Issued tokens; revoking an offline-minted token leaves a bare deny-list entry, which is not listed. */
export async function listIssuedTokens(services: Services, page: PageRequest): Promise<Page<TokenRecord>> {
  const { items, next } = await services.storage.tokens.list({ limit: page.limit, start: decodeCursor(page.cursor, collections.tokens) });
  return { items, nextCursor: encodeCursor(next) };
}

/** Revokes a token; again changes nothing (the first revocation and its event stand). */
export async function revokeToken(services: Services, actor: string, id: string, reason: string): Promise<void> {
  const now = services.now();
  const revocation = await services.storage.tokens.revoke(id, { by: actor, reason, at: now.toISOString(), eventId: newEventId(now) });
  await recordEvent(
    services,
    { type: 'token.revoked', actor: revocation.by, message: `${revocation.by} revoked token ${id}: ${revocation.reason}`, data: { id }, at: revocation.at },
    revocation.eventId,
  );
}
