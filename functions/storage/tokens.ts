// API tokens (TOKEN#<id> / #TOKEN: issued tokens and revocation entries) and one-time cluster
// registration tokens (REGTOKEN#<id> / #REGTOKEN).
import type { TokenRecord } from '../model.ts';
import { collections, keys } from './keys.ts';
import type { CollectionPage, Table } from './table.ts';

/** Who revoked a token, why and when, and the id of its event. */
export interface Revocation {
  by: string;
  reason: string;
  at: string;
  eventId: string;
}

const epochSeconds = (at: Date) => Math.floor(at.getTime() / 1000);

export class TokenStorage {
  constructor(private readonly table: Table) {}

  async put(token: TokenRecord): Promise<void> {
    await this.table.put({ ...keys.token(token.id), type: 'token', gsi1pk: collections.tokens, gsi1sk: token.issuedAt, ...token });
  }

  get(id: string) {
    return this.table.get<TokenRecord>(keys.token(id));
  }

  /** A page of issued tokens (revoking an offline-minted token leaves a bare entry, without a subject). */
  list(page: CollectionPage) {
    return this.table.collectionPage<TokenRecord>(collections.tokens, {
      ...page,
      filter: { expression: 'attribute_exists(#subject)', names: { '#subject': 'subject' }, values: {} },
    });
  }

  /**
   * Revocation is a deny-list entry, so tokens minted offline (the first admin token) can be revoked
   * too. The first revocation stands; returns it.
   */
  async revoke(id: string, revocation: Revocation): Promise<Revocation> {
    const first = await this.table.set(
      keys.token(id),
      { revoked: true, revokedAt: revocation.at, revocation, type: 'token' },
      'attribute_not_exists(#revoked) OR #revoked = :false',
      { values: { ':false': false }, names: { '#revoked': 'revoked' } },
    );
    if (first) return revocation;
    const stored = await this.table.get<{ revokedAt?: string; revocation?: Revocation }>(keys.token(id), true);
    return stored?.revocation ?? { ...revocation, at: stored?.revokedAt ?? revocation.at };
  }

  async putRegistrationToken(id: string, cluster: string, expiresAt: Date): Promise<void> {
    await this.table.put({ ...keys.registrationToken(id), type: 'registration-token', cluster, used: false, expiresAt: epochSeconds(expiresAt) });
  }

  /**
   * Marks the token used by the agent key `keyId`, and says when it was first used (and the id of
   * the registration's event, given then); null if unknown,
   * expired, for another cluster, or already used by another key. The same key again succeeds
   * until its installation is confirmed (markInstalled), so a registration retried after a crash
   * completes, while an old token replayed after the key was rotated does not bring that key back.
   */
  async consumeRegistrationToken(id: string, cluster: string, keyId: string, now: Date, eventId: string): Promise<{ usedAt: string; eventId: string; completed: false } | null> {
    const consumed = await this.table.update(
      keys.registrationToken(id),
      'SET #used = :true, #keyId = :keyId, #usedAt = if_not_exists(#usedAt, :now), #eventId = if_not_exists(#eventId, :eventId)',
      { '#used': 'used', '#cluster': 'cluster', '#expiresAt': 'expiresAt', '#keyId': 'keyId', '#usedAt': 'usedAt', '#installed': 'installed', '#eventId': 'eventId' },
      { ':true': true, ':false': false, ':cluster': cluster, ':nowSeconds': epochSeconds(now), ':keyId': keyId, ':now': now.toISOString(), ':eventId': eventId },
      'attribute_exists(pk) AND #cluster = :cluster AND #expiresAt > :nowSeconds AND (#used = :false OR (#keyId = :keyId AND attribute_not_exists(#installed)))',
    );
    if (!consumed) return null;
    const token = await this.table.get<{ usedAt: string; eventId: string }>(keys.registrationToken(id), true);
    return { usedAt: token?.usedAt ?? now.toISOString(), eventId: token?.eventId ?? eventId, completed: false };
  }

  getRegistrationToken(id: string) {
    return this.table.get<{ cluster: string; used: boolean; keyId?: string; usedAt?: string; eventId?: string; installed?: boolean }>(keys.registrationToken(id), true);
  }

  /** The token's key is on the cluster: the token can no longer be used, not even by the same key. */
  async markInstalled(id: string): Promise<void> {
    await this.table.set(keys.registrationToken(id), { installed: true });
  }
}
