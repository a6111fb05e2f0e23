// API tokens (TOKEN#<id> / #TOKEN: issued tokens and revocation entries) and one-time cluster
// registration tokens (REGTOKEN#<id> / #REGTOKEN).
import type { TokenRecord } from '../model.ts';
import { collections, keys } from './keys.ts';
import type { Table } from './table.ts';

const epochSeconds = (at: Date) => Math.floor(at.getTime() / 1000);

export class TokenStorage {
  constructor(private readonly table: Table) {}

  async put(token: TokenRecord): Promise<void> {
    await this.table.put({ ...keys.token(token.id), type: 'token', gsi1pk: collections.tokens, gsi1sk: token.issuedAt, ...token });
  }

  get(id: string) {
    return this.table.get<TokenRecord>(keys.token(id));
  }

  list() {
    return this.table.collection<TokenRecord>(collections.tokens);
  }

  /** Revocation is a deny-list entry, so tokens minted offline (the first admin token) can be revoked too. */
  async revoke(id: string, at: string): Promise<void> {
    await this.table.set(keys.token(id), { revoked: true, revokedAt: at, type: 'token' }, null);
  }

  async putRegistrationToken(id: string, cluster: string, expiresAt: Date): Promise<void> {
    await this.table.put({ ...keys.registrationToken(id), type: 'registration-token', cluster, used: false, expiresAt: epochSeconds(expiresAt) });
  }

  /** Marks the token used; false if unknown, already used, expired or for another cluster. */
  consumeRegistrationToken(id: string, cluster: string, now: Date): Promise<boolean> {
    return this.table.set(keys.registrationToken(id), { used: true }, 'attribute_exists(pk) AND #used = :false AND #cluster = :cluster AND #expiresAt > :now', {
      values: { ':false': false, ':cluster': cluster, ':now': epochSeconds(now) },
      names: { '#used': 'used', '#cluster': 'cluster', '#expiresAt': 'expiresAt' },
    });
  }
}
