// Every DynamoDB access pattern of the control plane, by name. Routes never build keys.
//
// Key layout (single table, generic key attributes):
//   APP#<app>          #APP               app spec               gsi1: APPS / <app>
//   APP#<app>          REL#<version>      release
//   APP#<app>          POLICY#<env>       policy of the app in an environment
//   ENV#<env>          #ENV               environment            gsi1: ENVS / <env>
//   ENV#<env>          DESIRED#<app>      precomputed desired entry of the app in the environment
//   PINS#<app>#<env>   <region|*>#<seq>   promotion record (append-only; head = pin)
//                                                            gsi1: PROMOS#<app> / <at>#<env>#<region>#<seq>
//   CLUSTER#<name>     #CLUSTER           cluster, agent key, status summary   gsi1: CLUSTERS / <name>
//   REGTOKEN#<jti>     #REGTOKEN          one-time registration token (expiresAt)
//   TOKEN#<jti>        #TOKEN             issued API token (revocable)          gsi1: TOKENS / <issuedAt>
//   EVENTS#<day>       <at>#<id>          audit event   gsi1: EVTAPP#<app> / <at>#<id>   gsi2: EVTCLU#<cluster> / <at>#<id>
import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { JWK } from 'jose';
import type {
  App,
  AppSpec,
  AppStatusSummary,
  Environment,
  Event,
  Grant,
  PromotionRecord,
  Release,
  ReleaseInput,
} from '../../lib/api/schemas.ts';

type Item = Record<string, unknown>;
type Suspension = { by: string; reason: string; at: string; until: string | null };

/** The cluster as stored: the API view plus its agent key and status bookkeeping. */
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
  suspended: Suspension | null;
  suspendedApps: Record<string, Suspension>;
  lastSeen: string | null;
  apps: Record<string, AppStatusSummary & { driftDigest?: string }>;
  statusHash: string | null;
  reportKey: string | null;
  reportedAt: string | null;
  /** When the agent signed the last stored report (seconds): an older report is a replay. */
  reportIssuedAt?: number;
}

export interface PolicyRecord {
  app: string;
  environment: string;
  track: string | null;
  updatedAt: string;
}

/** What every cluster of an environment needs to resolve one app: the spec plus the pins and the tracked version. */
export interface DesiredEntry {
  app: string;
  spec: AppSpec;
  /** Environment-wide version: the environment pin, else the highest non-blocked release in the tracked range. */
  version: { version: string; digest: string } | null;
  regions: Record<string, { version: string; digest: string }>;
}

export interface TokenRecord {
  id: string;
  subject: string;
  grants: Grant[];
  issuedAt: string;
  expiresAt: string;
  issuedBy: string;
  revoked: boolean;
}

export interface EventQuery {
  app?: string;
  cluster?: string;
  environment?: string;
  type?: string;
  /** Event types starting with this, e.g. `drift.`. */
  typePrefix?: string;
  since: string;
  until: string;
  limit: number;
  order: 'asc' | 'desc';
  /** Position of the last event of the previous page (`<at>#<id>`), exclusive. */
  after?: string;
}

export class ConflictError extends Error {}

/** A cluster as first created: no agent yet, nothing reported, not suspended. */
export function newClusterRecord(
  name: string,
  spec: { environment: string; region: string; labels: Record<string, string> },
  createdAt: string,
): ClusterRecord {
  return {
    name,
    ...spec,
    createdAt,
    publicKey: null,
    keyId: null,
    revoked: false,
    suspended: null,
    suspendedApps: {},
    lastSeen: null,
    apps: {},
    statusHash: null,
    reportKey: null,
    reportedAt: null,
  };
}

const ENV_WIDE = '*';
const MAX_EVENT_PAGES = 20;
const isConditionFailure = (err: unknown) =>
  err instanceof ConditionalCheckFailedException || (err as { name?: string })?.name === 'ConditionalCheckFailedException';

function strip<T>(item: Item | undefined): T | null {
  if (!item) return null;
  const { pk: _pk, sk: _sk, gsi1pk: _a, gsi1sk: _b, gsi2pk: _c, gsi2sk: _d, type: _t, ...rest } = item;
  return rest as T;
}

const seqKey = (region: string | null, seq: number) => `${region ?? ENV_WIDE}#${String(seq).padStart(10, '0')}`;

export class Store {
  readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    readonly tableName: string,
  ) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  // ---- generic helpers -------------------------------------------------------------------

  private async get<T>(pk: string, sk: string, consistent = false): Promise<T | null> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: { pk, sk }, ConsistentRead: consistent }),
    );
    return strip<T>(out.Item);
  }

  private async queryAll(input: Omit<QueryCommandInput, 'TableName'>, max = Infinity, maxPages = Infinity): Promise<Item[]> {
    const items: Item[] = [];
    let ExclusiveStartKey: Item | undefined;
    let pages = 0;
    do {
      const out = await this.doc.send(new QueryCommand({ ...input, TableName: this.tableName, ExclusiveStartKey }));
      items.push(...(out.Items ?? []));
      ExclusiveStartKey = out.LastEvaluatedKey;
    } while (ExclusiveStartKey && items.length < max && ++pages < maxPages);
    return items;
  }

  private async collection<T>(name: string): Promise<T[]> {
    const items = await this.queryAll({
      IndexName: 'byCollection',
      KeyConditionExpression: 'gsi1pk = :pk',
      ExpressionAttributeValues: { ':pk': name },
    });
    return items.map((item) => strip<T>(item)!);
  }

  /** Put only if absent; returns false when an item with this key exists. */
  private async create(item: Item): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({ TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  /**
   * SET the given attributes; by default only on an existing item (`condition: null` upserts).
   * Returns false when the condition fails.
   */
  private update(
    pk: string,
    sk: string,
    values: Item,
    condition: string | null = 'attribute_exists(pk)',
    extra: Item = {},
    extraNames: Record<string, string> = {},
  ) {
    const names: Record<string, string> = { ...extraNames };
    const vals: Item = { ...extra };
    const sets = Object.entries(values).map(([key, value], i) => {
      names[`#a${i}`] = key;
      vals[`:v${i}`] = value;
      return `#a${i} = :v${i}`;
    });
    return this.updateWith(pk, sk, `SET ${sets.join(', ')}`, names, vals, condition);
  }

  /** One conditional UpdateItem, every attribute name and value aliased; false when the condition fails. */
  private async updateWith(
    pk: string,
    sk: string,
    expression: string,
    names: Record<string, string>,
    values: Item,
    condition: string | null,
  ): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk, sk },
          UpdateExpression: expression,
          ConditionExpression: condition ?? undefined,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: Object.keys(values).length ? values : undefined,
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  // ---- apps ------------------------------------------------------------------------------

  async putApp(name: string, spec: AppSpec, now: string): Promise<{ app: App; created: boolean }> {
    const existing = await this.getApp(name, true);
    const app: App = { ...spec, name, createdAt: existing?.createdAt ?? now, updatedAt: now };
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: `APP#${name}`, sk: '#APP', type: 'app', gsi1pk: 'APPS', gsi1sk: name, ...app },
      }),
    );
    return { app, created: !existing };
  }

  getApp(name: string, consistent = false) {
    return this.get<App>(`APP#${name}`, '#APP', consistent);
  }

  listApps() {
    return this.collection<App>('APPS');
  }

  // ---- releases --------------------------------------------------------------------------

  /** Registers a release; the same version with the same digest is idempotent, another digest is a conflict. */
  async createRelease(
    app: string,
    input: ReleaseInput,
    publishedBy: string,
    now: string,
  ): Promise<{ release: Release; created: boolean }> {
    const release: Release = { app, ...input, publishedBy, publishedAt: now, blocked: null };
    if (await this.create({ pk: `APP#${app}`, sk: `REL#${input.version}`, type: 'release', ...release })) {
      return { release, created: true };
    }
    const existing = await this.getRelease(app, input.version, true);
    if (existing && existing.digest === input.digest) return { release: existing, created: false };
    throw new ConflictError(
      `release ${app}@${input.version} already exists with digest ${existing?.digest}; releases are immutable`,
    );
  }

  getRelease(app: string, version: string, consistent = false) {
    return this.get<Release>(`APP#${app}`, `REL#${version}`, consistent);
  }

  async listReleases(app: string, consistent = false): Promise<Release[]> {
    const items = await this.queryAll({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :rel)',
      ExpressionAttributeValues: { ':pk': `APP#${app}`, ':rel': 'REL#' },
      ConsistentRead: consistent,
    });
    return items.map((item) => strip<Release>(item)!);
  }

  /** Sets or clears the block; returns null if the release does not exist. */
  async setReleaseBlock(app: string, version: string, block: Release['blocked']): Promise<Release | null> {
    const ok = await this.update(`APP#${app}`, `REL#${version}`, { blocked: block });
    return ok ? this.getRelease(app, version, true) : null;
  }

  // ---- environments and policies ---------------------------------------------------------

  async putEnvironment(
    name: string,
    spec: { upstream: string | null; description?: string },
    now: string,
  ): Promise<{ environment: Environment; created: boolean }> {
    const existing = await this.getEnvironment(name, true);
    const environment: Environment = { ...spec, name, createdAt: existing?.createdAt ?? now, updatedAt: now };
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: `ENV#${name}`, sk: '#ENV', type: 'environment', gsi1pk: 'ENVS', gsi1sk: name, ...environment },
      }),
    );
    return { environment, created: !existing };
  }

  getEnvironment(name: string, consistent = false) {
    return this.get<Environment>(`ENV#${name}`, '#ENV', consistent);
  }

  listEnvironments() {
    return this.collection<Environment>('ENVS');
  }

  async putPolicy(app: string, environment: string, track: string | null, now: string): Promise<PolicyRecord> {
    const policy: PolicyRecord = { app, environment, track, updatedAt: now };
    await this.doc.send(
      new PutCommand({ TableName: this.tableName, Item: { pk: `APP#${app}`, sk: `POLICY#${environment}`, type: 'policy', ...policy } }),
    );
    return policy;
  }

  /** Creates a policy unless one exists (a concurrent admin's policy wins). */
  async createPolicyIfAbsent(app: string, environment: string, track: string | null, now: string): Promise<void> {
    await this.create({ pk: `APP#${app}`, sk: `POLICY#${environment}`, type: 'policy', app, environment, track, updatedAt: now });
  }

  getPolicy(app: string, environment: string, consistent = false) {
    return this.get<PolicyRecord>(`APP#${app}`, `POLICY#${environment}`, consistent);
  }

  async listPolicies(app: string): Promise<PolicyRecord[]> {
    const items = await this.queryAll({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
      ExpressionAttributeValues: { ':pk': `APP#${app}`, ':p': 'POLICY#' },
      ConsistentRead: true,
    });
    return items.map((item) => strip<PolicyRecord>(item)!);
  }

  // ---- promotions (append-only; the head of each region's history is its pin) -----------

  /** Strongly consistent: the current head of one pin's history, or null. */
  async getPinHead(app: string, environment: string, region: string | null): Promise<PromotionRecord | null> {
    const out = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :region)',
        ExpressionAttributeValues: { ':pk': `PINS#${app}#${environment}`, ':region': `${region ?? ENV_WIDE}#` },
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    return strip<PromotionRecord>(out.Items?.[0]);
  }

  /**
   * Appends a record at `record.seq`. The conditional put on the sequence number is what makes
   * concurrent promotions safe: exactly one writer gets each seq, the others get a ConflictError.
   */
  async appendPromotion(record: PromotionRecord): Promise<void> {
    const created = await this.create({
      pk: `PINS#${record.app}#${record.environment}`,
      sk: seqKey(record.region, record.seq),
      type: 'promotion',
      gsi1pk: `PROMOS#${record.app}`,
      gsi1sk: `${record.at}#${record.environment}#${record.region ?? ENV_WIDE}#${seqKey(null, record.seq)}`,
      ...record,
    });
    if (!created) throw new ConflictError('another promotion of this target was accepted first; retry with fresh state');
  }

  /** The whole history of one pin, oldest first (strongly consistent). */
  async listPinHistory(app: string, environment: string, region: string | null): Promise<PromotionRecord[]> {
    const items = await this.queryAll({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :region)',
      ExpressionAttributeValues: { ':pk': `PINS#${app}#${environment}`, ':region': `${region ?? ENV_WIDE}#` },
      ConsistentRead: true,
    });
    return items.map((item) => strip<PromotionRecord>(item)!);
  }

  /** The pins of an app in an environment: the head record of each region (null region = environment-wide). */
  async listPins(app: string, environment: string): Promise<PromotionRecord[]> {
    const items = await this.queryAll({
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `PINS#${app}#${environment}` },
      ConsistentRead: true,
    });
    const heads = new Map<string, PromotionRecord>();
    for (const item of items) {
      const record = strip<PromotionRecord>(item)!;
      heads.set(record.region ?? ENV_WIDE, record); // ascending sk order: the last one per region wins
    }
    return [...heads.values()];
  }

  async listPromotions(app: string): Promise<PromotionRecord[]> {
    return this.collection<PromotionRecord>(`PROMOS#${app}`);
  }

  // ---- precomputed desired state per environment -----------------------------------------

  /** Announces a change to (app, environment); returns the revision the next rebuild must carry. */
  async bumpDesiredRevision(environment: string, app: string): Promise<number> {
    const out = await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: `ENV#${environment}`, sk: `DESIRED#${app}` },
        UpdateExpression: 'SET #type = :type ADD #rev :one',
        ExpressionAttributeNames: { '#type': 'type', '#rev': 'rev' },
        ExpressionAttributeValues: { ':one': 1, ':type': 'desired' },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return Number(out.Attributes?.rev);
  }

  /**
   * Stores the entry built from state read after revision `rev` was announced. A rebuild that
   * started earlier than one already stored loses the condition, so the newest state always wins.
   */
  async putDesiredEntry(environment: string, app: string, rev: number, entry: DesiredEntry | null): Promise<boolean> {
    return this.update(
      `ENV#${environment}`,
      `DESIRED#${app}`,
      { entry, builtRev: rev },
      'attribute_not_exists(#builtRev) OR #builtRev < :rev',
      { ':rev': rev },
      { '#builtRev': 'builtRev' },
    );
  }

  /** The precomputed entry of one app in one environment; null when it is not deployed there. */
  async getDesiredEntry(environment: string, app: string, consistent = false): Promise<DesiredEntry | null> {
    const item = await this.get<{ entry?: DesiredEntry | null }>(`ENV#${environment}`, `DESIRED#${app}`, consistent);
    return item?.entry ?? null;
  }

  /** One query: every app's desired entry in the environment (eventually consistent, as check-ins allow). */
  async listDesiredEntries(environment: string): Promise<DesiredEntry[]> {
    const items = await this.queryAll({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :d)',
      ExpressionAttributeValues: { ':pk': `ENV#${environment}`, ':d': 'DESIRED#' },
    });
    return items.flatMap((item) => (item.entry ? [item.entry as DesiredEntry] : []));
  }

  // ---- clusters --------------------------------------------------------------------------

  async putCluster(
    name: string,
    spec: { environment: string; region: string; labels: Record<string, string> },
    now: string,
  ): Promise<{ cluster: ClusterRecord; created: boolean }> {
    const fresh = newClusterRecord(name, spec, now);
    if (await this.create({ pk: `CLUSTER#${name}`, sk: '#CLUSTER', type: 'cluster', gsi1pk: 'CLUSTERS', gsi1sk: name, ...fresh })) {
      return { cluster: fresh, created: true };
    }
    await this.update(`CLUSTER#${name}`, '#CLUSTER', { ...spec });
    return { cluster: (await this.getCluster(name, true))!, created: false };
  }

  getCluster(name: string, consistent = false) {
    return this.get<ClusterRecord>(`CLUSTER#${name}`, '#CLUSTER', consistent);
  }

  listClusters() {
    return this.collection<ClusterRecord>('CLUSTERS');
  }

  /** Installs an agent key. With `expectedKeyId`, only if that key is still current (rotation). */
  setClusterKey(name: string, publicKey: JWK, keyId: string, expectedKeyId?: string): Promise<boolean> {
    return expectedKeyId
      ? this.update(
          `CLUSTER#${name}`,
          '#CLUSTER',
          { publicKey, keyId },
          '#keyId = :old AND #revoked = :false',
          { ':old': expectedKeyId, ':false': false },
          { '#keyId': 'keyId', '#revoked': 'revoked' },
        )
      : this.update(`CLUSTER#${name}`, '#CLUSTER', { publicKey, keyId, revoked: false });
  }

  revokeCluster(name: string, at: Date): Promise<boolean> {
    return this.update(`CLUSTER#${name}`, '#CLUSTER', {
      revoked: true,
      revokedAt: Math.floor(at.getTime() / 1000),
      publicKey: null,
      keyId: null,
    });
  }

  setSuspension(name: string, app: string | undefined, suspension: Suspension | null): Promise<boolean> {
    if (!app) return this.update(`CLUSTER#${name}`, '#CLUSTER', { suspended: suspension });
    // suspendedApps always exists (created with the cluster), so a nested path can be set or removed.
    const names = { '#apps': 'suspendedApps', '#app': app };
    const [pk, sk, exists] = [`CLUSTER#${name}`, '#CLUSTER', 'attribute_exists(pk)'];
    return suspension
      ? this.updateWith(pk, sk, 'SET #apps.#app = :s', names, { ':s': suspension }, exists)
      : this.updateWith(pk, sk, 'REMOVE #apps.#app', names, {}, exists);
  }

  recordHeartbeat(name: string, at: string): Promise<boolean> {
    return this.update(`CLUSTER#${name}`, '#CLUSTER', { lastSeen: at });
  }

  recordStatus(
    name: string,
    status: { apps: ClusterRecord['apps']; statusHash: string; reportKey: string; at: string; issuedAt: number },
  ): Promise<boolean> {
    return this.update(`CLUSTER#${name}`, '#CLUSTER', {
      apps: status.apps,
      statusHash: status.statusHash,
      reportKey: status.reportKey,
      reportedAt: status.at,
      reportIssuedAt: status.issuedAt,
      lastSeen: status.at,
    });
  }

  // ---- registration tokens and API tokens ------------------------------------------------

  async putRegistrationToken(jti: string, cluster: string, expiresAt: Date): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: `REGTOKEN#${jti}`,
          sk: '#REGTOKEN',
          type: 'registration-token',
          cluster,
          used: false,
          expiresAt: Math.floor(expiresAt.getTime() / 1000),
        },
      }),
    );
  }

  /** Marks the token used; false if unknown, already used, expired or for another cluster. */
  consumeRegistrationToken(jti: string, cluster: string, now: Date): Promise<boolean> {
    return this.update(
      `REGTOKEN#${jti}`,
      '#REGTOKEN',
      { used: true },
      'attribute_exists(pk) AND #used = :false AND #cluster = :cluster AND #expiresAt > :now',
      { ':false': false, ':cluster': cluster, ':now': Math.floor(now.getTime() / 1000) },
      { '#used': 'used', '#cluster': 'cluster', '#expiresAt': 'expiresAt' },
    );
  }

  async putToken(token: TokenRecord): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: `TOKEN#${token.id}`, sk: '#TOKEN', type: 'token', gsi1pk: 'TOKENS', gsi1sk: token.issuedAt, ...token },
      }),
    );
  }

  getToken(id: string) {
    return this.get<TokenRecord>(`TOKEN#${id}`, '#TOKEN');
  }

  listTokens() {
    return this.collection<TokenRecord>('TOKENS');
  }

  /** Revocation is a deny-list entry, so tokens minted offline (the first admin token) can be revoked too. */
  async revokeToken(id: string, at: string): Promise<void> {
    await this.update(`TOKEN#${id}`, '#TOKEN', { revoked: true, revokedAt: at, type: 'token' }, null);
  }

  // ---- events ----------------------------------------------------------------------------

  async putEvent(event: Event): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.tableName, Item: eventItem(event) }));
  }

  /** Many events in batches of 25, retrying what DynamoDB leaves unprocessed. */
  async putEvents(events: Event[]): Promise<void> {
    for (let i = 0; i < events.length; i += 25) {
      let requests = events.slice(i, i + 25).map((event) => ({ PutRequest: { Item: eventItem(event) } }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** attempt)));
        if (attempt > 8) throw new Error('DynamoDB left event writes unprocessed');
        const out = await this.doc.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: requests } }));
        requests = (out.UnprocessedItems?.[this.tableName] ?? []) as typeof requests;
      }
    }
  }

  /**
   * Events in a time window. By app or cluster it is one index query; otherwise one query per
   * day partition. Environment and type are filters on top.
   */
  async queryEvents(query: EventQuery): Promise<{ events: Event[]; next: string | null }> {
    const filters: string[] = [];
    // The previous page's last position narrows the window on the side the pages move towards;
    // the bound is inclusive, so that one event is dropped again below.
    const from = query.after && query.order === 'asc' ? query.after : query.since;
    const to = query.after && query.order === 'desc' ? query.after : `${query.until}~`;
    const values: Item = { ':from': from, ':to': to };
    const names: Record<string, string> = {};
    if (query.environment) {
      filters.push('#env = :env');
      names['#env'] = 'environment';
      values[':env'] = query.environment;
    }
    if (query.type) {
      filters.push('#eventType = :type');
      names['#eventType'] = 'eventType';
      values[':type'] = query.type;
    }
    if (query.typePrefix) {
      filters.push('begins_with(#eventType, :typePrefix)');
      names['#eventType'] = 'eventType';
      values[':typePrefix'] = query.typePrefix;
    }
    if (query.app && query.cluster) {
      filters.push('#cluster = :cluster');
      names['#cluster'] = 'cluster';
      values[':cluster'] = query.cluster;
    }
    const base = {
      FilterExpression: filters.length ? filters.join(' AND ') : undefined,
      ExpressionAttributeNames: Object.keys(names).length ? names : undefined,
      ScanIndexForward: query.order === 'asc',
    };
    // Limit bounds the items each page evaluates and MAX_EVENT_PAGES the pages, so a filter
    // that matches nothing cannot make one request read a quarter's worth of events.
    // One more than the page (plus the previous page's last one) tells whether another page follows.
    const wanted = query.limit + 2;
    const run = (input: Omit<QueryCommandInput, 'TableName'>) =>
      this.queryAll(
        { ...base, ...input, Limit: wanted, ExpressionAttributeValues: { ...values, ...input.ExpressionAttributeValues } },
        wanted,
        MAX_EVENT_PAGES,
      );

    let items: Item[];
    if (query.app) {
      items = await run({
        IndexName: 'byCollection',
        KeyConditionExpression: 'gsi1pk = :pk AND gsi1sk BETWEEN :from AND :to',
        ExpressionAttributeValues: { ':pk': `EVTAPP#${query.app}` },
      });
    } else if (query.cluster) {
      items = await run({
        IndexName: 'byCluster',
        KeyConditionExpression: 'gsi2pk = :pk AND gsi2sk BETWEEN :from AND :to',
        ExpressionAttributeValues: { ':pk': `EVTCLU#${query.cluster}` },
      });
    } else {
      items = [];
      const days = eachDay(from, to);
      if (query.order === 'desc') days.reverse();
      for (const day of days) {
        if (items.length >= wanted) break;
        items.push(
          ...(await run({
            KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
            ExpressionAttributeValues: { ':pk': `EVENTS#${day}` },
          })),
        );
      }
    }
    const page = items.filter((item) => item.sk !== query.after);
    const events = page.slice(0, query.limit).map((item) => toEvent(item));
    const last = events.at(-1);
    return { events, next: page.length > query.limit && last ? `${last.at}#${last.id}` : null };
  }
}

function eventItem(event: Event): Item {
  const sk = `${event.at}#${event.id}`;
  // `type` is the entity type of every item; the event's own type is kept as `eventType`.
  const { type: eventType, ...rest } = event;
  return {
    pk: `EVENTS#${event.at.slice(0, 10)}`,
    sk,
    type: 'event',
    ...(event.app ? { gsi1pk: `EVTAPP#${event.app}`, gsi1sk: sk } : {}),
    ...(event.cluster ? { gsi2pk: `EVTCLU#${event.cluster}`, gsi2sk: sk } : {}),
    eventType,
    ...rest,
  };
}

function toEvent(item: Item): Event {
  const { eventType, ...rest } = strip<Item>(item)!;
  return { ...rest, type: eventType } as Event;
}

function eachDay(since: string, until: string): string[] {
  const days: string[] = [];
  const end = until.slice(0, 10);
  for (let day = new Date(since.slice(0, 10) + 'T00:00:00Z'); ; day = new Date(day.getTime() + 86_400_000)) {
    const text = day.toISOString().slice(0, 10);
    if (text > end) break;
    days.push(text);
  }
  return days;
}
