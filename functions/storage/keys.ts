// Every key of the single table, spelled once. Generic key attributes: pk/sk for items, gsi1pk/gsi1sk
// for the byCollection index, gsi2pk/gsi2sk for byCluster, gsi3pk/gsi3sk for byDue (see schema.ts).
//
//   pk                 sk                 item                                  index
//   APP#<app>          #APP               app spec                              byCollection APPS / <app>
//   APP#<app>          REL#<version>      release                               byCollection RELEASES#<app> / <version sort key>
//   APP#<app>          #RELEASE-INDEX     marker: every release is in that collection
//   APP#<app>          POLICY#<env>       policy of the app in an environment
//   APP#<app>          #VALUES            the app's variables per environment and per cluster
//   ENV#<env>          #ENV               environment                           byCollection ENVS / <env>
//   ENV#<env>          DESIRED#<app>      precomputed desired entry
//   PINS#<app>#<env>   <region|*>#<seq>   promotion record (append-only; head = pin)
//                                                                               byCollection PROMOS#<app> / <at>#<env>#<region>#<seq>
//   CLUSTER#<name>     #CLUSTER           cluster, agent key, suspension        byCollection CLUSTERS / <name>
//   CLUSTER#<name>     #STATUS            heartbeat, report bookkeeping (small)
//   CLUSTER#<name>     STATUS#<app>       one app's status on the cluster       byCollection STATUS#<env>#<app> / <region>#<name>
//   FLEET#<env>        CELL#<app>#<region> fleet counts of one cell (derived)
//   REGTOKEN#<jti>     #REGTOKEN          one-time registration token
//   TOKEN#<jti>        #TOKEN             issued API token / revocation entry   byCollection TOKENS / <issuedAt>
//   EVENTS#<day>       <at>#<id>          audit event                           byCollection EVTAPP#<app>, byCluster EVTCLU#<cluster>
//   ROLLOUT#<app>#<env> <seq>             rollout (waves, gates, status; rev)    byCollection ROLLOUTS / <app>#<env> while active
//   APPROVAL#<app>#<v> <env>#<actor>      approval of a release for an environment
//   ORG                #FREEZE            the org-wide freeze
//   SUB#<id>           #SUB               notification subscription (secrets)   byCollection SUBS / <id>
//   SUB#<id>           DLV#<eventId>      one delivery of one event, its attempts  byDue DUE / <next attempt>#<id>#<eventId> while pending
//   SUB#<id>           DEBOUNCE#<object>  until when drift of that object is not sent again
//   (events, above)                       an event not yet fanned out to deliveries  byDue OUTBOX / <at>#<id>

export interface Key {
  pk: string;
  sk: string;
}

/** The pin of a whole environment (no region) sorts under this region name. */
export const ENV_WIDE = '*';

const seq = (n: number) => String(n).padStart(10, '0');

export const keys = {
  app: (app: string): Key => ({ pk: `APP#${app}`, sk: '#APP' }),
  release: (app: string, version: string): Key => ({ pk: `APP#${app}`, sk: `REL#${version}` }),
  /** Present once every release of the app is in the releases collection (see AppStorage). */
  releaseIndex: (app: string): Key => ({ pk: `APP#${app}`, sk: '#RELEASE-INDEX' }),
  policy: (app: string, environment: string): Key => ({ pk: `APP#${app}`, sk: `POLICY#${environment}` }),
  appValues: (app: string): Key => ({ pk: `APP#${app}`, sk: '#VALUES' }),
  environment: (environment: string): Key => ({ pk: `ENV#${environment}`, sk: '#ENV' }),
  desired: (environment: string, app: string): Key => ({ pk: `ENV#${environment}`, sk: `DESIRED#${app}` }),
  promotion: (app: string, environment: string, region: string | null, n: number, group?: string): Key => ({
    pk: pinsPartition(app, environment),
    sk: `${group ? `@${group}` : (region ?? ENV_WIDE)}#${seq(n)}`,
  }),
  cluster: (name: string): Key => ({ pk: `CLUSTER#${name}`, sk: '#CLUSTER' }),
  clusterStatus: (name: string): Key => ({ pk: `CLUSTER#${name}`, sk: '#STATUS' }),
  appStatus: (name: string, app: string): Key => ({ pk: `CLUSTER#${name}`, sk: `STATUS#${app}` }),
  fleetCell: (environment: string, app: string, region: string): Key => ({ pk: fleetPartition(environment), sk: `CELL#${app}#${region}` }),
  registrationToken: (id: string): Key => ({ pk: `REGTOKEN#${id}`, sk: '#REGTOKEN' }),
  token: (id: string): Key => ({ pk: `TOKEN#${id}`, sk: '#TOKEN' }),
  event: (at: string, id: string): Key => ({ pk: eventDayPartition(at.slice(0, 10)), sk: eventPosition(at, id) }),
  rollout: (app: string, environment: string, n: number): Key => ({ pk: rolloutsPartition(app, environment), sk: seq(n) }),
  approval: (app: string, version: string, environment: string, actor: string): Key => ({ pk: approvalsPartition(app, version), sk: `${environment}#${actor}` }),
  freeze: (): Key => ({ pk: 'ORG', sk: '#FREEZE' }),
  subscription: (id: string): Key => ({ pk: subscriptionPartition(id), sk: '#SUB' }),
  delivery: (subscription: string, eventId: string): Key => ({ pk: subscriptionPartition(subscription), sk: `DLV#${eventId}` }),
  debounce: (subscription: string, subject: string): Key => ({ pk: subscriptionPartition(subscription), sk: `DEBOUNCE#${subject}` }),
};

/** Sort-key prefixes of the items that share a partition with others. */
export const prefixes = {
  release: 'REL#',
  policy: 'POLICY#',
  desired: 'DESIRED#',
  appStatus: 'STATUS#',
  fleetCell: 'CELL#',
  /** One pin's history inside its app and environment's partition. */
  pin: (region: string | null) => `${region ?? ENV_WIDE}#`,
  /** A wave's cluster-group pin: `@<wave>` sorts apart from regions (DNS labels) and `*`. */
  groupPin: (group: string) => `@${group}#`,
  approvalsFor: (environment: string) => `${environment}#`,
  delivery: 'DLV#',
};

export const pinsPartition = (app: string, environment: string) => `PINS#${app}#${environment}`;
export const rolloutsPartition = (app: string, environment: string) => `ROLLOUT#${app}#${environment}`;
export const approvalsPartition = (app: string, version: string) => `APPROVAL#${app}#${version}`;
export const clusterPartition = (name: string) => keys.cluster(name).pk;
export const subscriptionPartition = (id: string) => `SUB#${id}`;
export const fleetPartition = (environment: string) => `FLEET#${environment}`;
export const environmentPartition = (environment: string) => keys.environment(environment).pk;
export const eventDayPartition = (day: string) => `EVENTS#${day}`;
/** Where an event sorts, in its day and in the indexes: `<at>#<id>`. */
export const eventPosition = (at: string, id: string) => `${at}#${id}`;

/** Partitions of the byCollection index. */
export const collections = {
  apps: 'APPS',
  environments: 'ENVS',
  clusters: 'CLUSTERS',
  tokens: 'TOKENS',
  promotions: (app: string) => `PROMOS#${app}`,
  /** An app's releases in semver order (gsi1sk: versionSortKey). */
  releases: (app: string) => `RELEASES#${app}`,
  appEvents: (app: string) => `EVTAPP#${app}`,
  /** The status of one app on every cluster of one environment (gsi1sk: <region>#<cluster>). */
  appStatuses: (environment: string, app: string) => `STATUS#${environment}#${app}`,
  /** Rollouts still running or paused, for the clock that advances them. */
  activeRollouts: 'ROLLOUTS',
  subscriptions: 'SUBS',
};

/** Partitions of the byDue index (gsi3pk/gsi3sk): work the notification dispatcher has to do. */
export const due = {
  /** Events not yet fanned out into deliveries: the outbox is the event item itself. */
  outbox: 'OUTBOX',
  /** Deliveries waiting for their next attempt, by its time. */
  deliveries: 'DUE',
};

/** Partitions of the byCluster index. */
export const clusterIndex = {
  events: (cluster: string) => `EVTCLU#${cluster}`,
};

/** Where a promotion record sorts among its app's promotions: by time, then target and sequence. */
export const promotionPosition = (at: string, environment: string, region: string | null, n: number, group?: string) =>
  `${at}#${environment}#${group ? `@${group}` : (region ?? ENV_WIDE)}#${ENV_WIDE}#${seq(n)}`;
