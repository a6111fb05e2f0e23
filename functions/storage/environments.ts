// Environments (ENV#<env> / #ENV) and the policy of each app in each (APP#<app> / POLICY#<env>).
import type { Environment, EnvironmentSpec, SignatureVerification } from '../../lib/api/schemas.ts';
import type { PolicyRecord } from '../model.ts';
import { collections, keys, prefixes } from './keys.ts';
import type { CollectionPage, Table } from './table.ts';

export class EnvironmentStorage {
  constructor(private readonly table: Table) {}

  /** Creates or replaces the environment, keeping its creation time; says whether it is new. */
  async put(name: string, spec: EnvironmentSpec, now: string): Promise<{ environment: Environment; created: boolean }> {
    const index = { type: 'environment', gsi1pk: collections.environments, gsi1sk: name };
    const build = (createdAt: string): Environment => ({ ...spec, name, createdAt, updatedAt: now });
    const { value: environment, created } = await this.table.replace(keys.environment(name), index, build, now);
    return { environment, created };
  }

  get(name: string, consistent = false) {
    return this.table.get<Environment>(keys.environment(name), consistent);
  }

  /** Every environment (the fleet view needs them all). */
  list() {
    return this.table.collection<Environment>(collections.environments);
  }

  listPage(page: CollectionPage) {
    return this.table.collectionPage<Environment>(collections.environments, page);
  }

  async putPolicy(app: string, environment: string, track: string | null, now: string, verify: SignatureVerification | null = null): Promise<PolicyRecord> {
    const policy: PolicyRecord = { app, environment, track, ...(verify ? { verify } : {}), updatedAt: now };
    await this.table.put({ ...keys.policy(app, environment), type: 'policy', ...policy });
    return policy;
  }

  /** Creates a policy unless one exists (a concurrent admin's policy wins). */
  async createPolicyIfAbsent(app: string, environment: string, track: string | null, now: string): Promise<void> {
    await this.table.create({ ...keys.policy(app, environment), type: 'policy', app, environment, track, updatedAt: now });
  }

  getPolicy(app: string, environment: string, consistent = false) {
    return this.table.get<PolicyRecord>(keys.policy(app, environment), consistent);
  }

  /** Every environment the app has a policy in (strongly consistent). */
  listPolicies(app: string) {
    return this.table.partition<PolicyRecord>(keys.app(app).pk, prefixes.policy, { consistent: true });
  }
}
