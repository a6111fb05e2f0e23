// The API contract shared by the control plane, the agent and the CLI.
// Every request and response body of the REST API is one of these schemas; the
// control plane derives /openapi.json from them, the agent and CLI parse with them.
import { z } from '@hono/zod-openapi';
import { LIMITS, VARIABLE_NAME } from '../limits.ts';
import { normalizeVersion, isValidRange } from '../semver.ts';
import { DependsOn, DriftMode } from './dependencies.ts';
import { CosignKeyError, MAX_COSIGN_PUBLIC_KEY_CHARS, canonicalCosignPublicKey } from '../oci/cosign-key.ts';

/**
 * Keys that would collide with what every JavaScript object already has (`constructor`, `toString`,
 * `__proto__`, …): refused wherever a client's string becomes a key of a stored map.
 */
export const isReservedKey = (key: string) => key in Object.prototype || key === 'prototype';

/** DNS-label style names for apps, environments, clusters and regions. */
export const Name = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a lowercase DNS label (a-z, 0-9, -; at most 63)')
  .refine((name) => !isReservedKey(name), 'is a reserved word')
  .openapi({ example: 'checkout' });

export const Digest = z
  .string()
  .regex(/^sha256:[a-f0-9]{64}$/, 'must be sha256:<64 hex>')
  .openapi({ example: 'sha256:' + 'a'.repeat(64) });

/** Strict semver; a leading `v` is accepted and removed. */
export const Version = z
  .string()
  .max(128)
  .transform((value, ctx) => {
    const version = normalizeVersion(value);
    if (!version) {
      ctx.addIssue({ code: 'custom', message: 'must be a strict semantic version such as 1.2.3 (numbers at most 2^53-1)' });
      return z.NEVER;
    }
    if (version.includes('+')) {
      // 1.0.0+a and 1.0.0+b have equal precedence: tracking could not tell them apart.
      ctx.addIssue({ code: 'custom', message: 'build metadata (+…) is not allowed in release versions' });
      return z.NEVER;
    }
    return version;
  })
  .openapi({
    type: 'string',
    pattern: '^v?(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?$',
    example: '1.2.3',
  });

export const SemverRange = z
  .string()
  .max(256)
  .refine(isValidRange, 'must be a semver range such as ^1.0.0')
  .openapi({ example: '^1.0.0' });

/** OCI repository without tag or digest: host[:port]/path. */
export const Repository = z
  .string()
  .max(512)
  .regex(
    /^[a-z0-9.-]+(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+|__[a-z0-9]+)*)+$/,
    'must be an OCI repository host[:port]/path without tag',
  )
  .openapi({ example: 'registry.example.com/team/checkout' });

/** Kubernetes label syntax: an optional DNS-subdomain prefix and a name; values may be empty. */
const LABEL_NAME = '[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';
const LabelKey = z
  .string()
  .max(317)
  .regex(new RegExp(`^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?${LABEL_NAME}$`), 'must be a Kubernetes label key ([prefix/]name)')
  .refine((key) => !isReservedKey(key), 'is a reserved word');
const LabelValue = z.string().regex(new RegExp(`^(${LABEL_NAME})?$`), 'must be a Kubernetes label value (at most 63 of A-Z, a-z, 0-9, -, _, .)');
const Labels = z
  .record(LabelKey, LabelValue)
  .refine((labels) => Object.keys(labels).length <= 64, 'at most 64 labels')
  .openapi({ example: { tier: 'web' } });
const Timestamp = z.string().openapi({ format: 'date-time', example: '2026-11-26T02:00:00.000Z' });
/** A timestamp a client sends: RFC 3339 with an offset, stored normalised to UTC. */
const InputTimestamp = z.iso
  .datetime({ offset: true })
  .transform((value) => new Date(value).toISOString())
  .openapi({ type: 'string', format: 'date-time', example: '2026-11-26T02:00:00Z' });
const Reason = z.string().max(1000).regex(/\S/, 'a reason is required').trim();

/** A cosign public key (cosign.pub from `cosign generate-key-pair`: PEM, ECDSA P-256), stored in canonical PEM. */
export const CosignPublicKey = z
  .string()
  .max(MAX_COSIGN_PUBLIC_KEY_CHARS)
  .transform((value, ctx) => {
    try {
      return canonicalCosignPublicKey(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: error instanceof CosignKeyError ? error.message : 'is not a valid public key' });
      return z.NEVER;
    }
  })
  .openapi({
    type: 'string',
    maxLength: MAX_COSIGN_PUBLIC_KEY_CHARS,
    description: 'PEM ECDSA P-256 public key (cosign.pub, as `cosign generate-key-pair` writes it)',
    example: '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE…\n-----END PUBLIC KEY-----\n',
  });

/**
 * Signature verification an app requires: artifacts must carry a cosign signature by this key
 * (checked by the agent against the manifest digest before it pulls a layer).
 */
export const SignatureVerification = z
  .object({ provider: z.literal('cosign').default('cosign'), publicKey: CosignPublicKey })
  .strict()
  .openapi('SignatureVerification');
export type SignatureVerification = z.infer<typeof SignatureVerification>;
/** A Secret in the agent's namespace whose data keys are variables (read by the agent, never sent to the control plane). */
export const ValuesFrom = z
  .object({
    secret: z
      .string()
      .max(253)
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, 'must be a Secret name (a DNS subdomain)'),
    optional: z.boolean().default(false).openapi({ description: 'A missing Secret is skipped instead of failing the app' }),
  })
  .strict()
  .openapi('ValuesFrom');
export type ValuesFrom = z.infer<typeof ValuesFrom>;

// Each resource's fields are declared once; the input schema is the strict form (unknown fields
// are a 400), the output schema extends the plain form (an extended strict object would publish an
// allOf of two closed objects that nothing can satisfy).
const appFields = {
    repository: Repository,
    path: z.string().max(256).regex(/^(\.|[^/].*)$/, 'must be relative').default('.'),
    namespace: Name.default('default'),
    prune: z.boolean().default(true),
    wait: z.boolean().default(true),
    timeoutSeconds: z.number().int().min(1).max(3600).default(300),
    /** Allow delete-and-recreate when an immutable field changes (e.g. a Job's template). */
    recreate: z.boolean().default(false),
    clusterSelector: Labels.optional(),
    dependsOn: DependsOn.optional(),
    drift: DriftMode.optional(),
    /** Require a cosign signature by this key on every release, in every environment. */
    verify: SignatureVerification.optional(),
    /** Secrets in the agent's namespace whose data are variables (highest precedence); never read by the control plane. */
    valuesFrom: z.array(ValuesFrom).max(16).optional(),
    /** Variable substitution in the built objects (default on, strict); false leaves every `${…}` as it is. */
    substitute: z.boolean().optional(),
};
export const AppSpec = z.object(appFields).strict().openapi('AppSpec');
export type AppSpec = z.infer<typeof AppSpec>;

export const App = z.object({ ...appFields, name: Name, createdAt: Timestamp, updatedAt: Timestamp }).openapi('App');
export type App = z.infer<typeof App>;

export const ReleaseInput = z
  .object({
    version: Version,
    digest: Digest,
    tag: z.string().max(128).optional(),
    source: z.string().max(1024).optional(),
    revision: z.string().max(256).optional(),
    created: InputTimestamp.optional(),
  })
  .strict()
  .openapi('ReleaseInput');
export type ReleaseInput = z.infer<typeof ReleaseInput>;

export const Block = z.object({ reason: z.string(), by: z.string(), at: Timestamp, eventId: z.string().optional() }).openapi('Block');

export const Release = z
  .object({
    app: Name,
    version: z.string(),
    digest: Digest,
    tag: z.string().optional(),
    source: z.string().optional(),
    revision: z.string().optional(),
    created: Timestamp.optional(),
    publishedBy: z.string(),
    publishedAt: Timestamp,
    /** The id of the audit event of its publication. */
    eventId: z.string().optional(),
    blocked: Block.nullable(),
    /** The last unblock, when the release was blocked before. */
    unblocked: Block.nullable().optional(),
    /** The recall: every pin that held the release was moved back (see POST …/block with recall). */
    recalled: Block.optional(),
  })
  .openapi('Release');
export type Release = z.infer<typeof Release>;

export const ReasonInput = z.object({ reason: Reason }).strict().openapi('ReasonInput');
export type ReasonInput = z.infer<typeof ReasonInput>;

const Seconds = (max: number) => z.number().int().min(0).max(max);
const DAY_SECONDS = 86_400;

/** Gates on entering the environment (see functions/domain/gates.ts). */
export const GateConfig = z
  .object({
    upstreamReadyShare: z.number().gt(0).max(1).nullable().default(null).openapi({ description: 'Share of the upstream environment\'s clusters that must run the version Ready; null: not required' }),
    soakSeconds: Seconds(30 * DAY_SECONDS).default(0).openapi({ description: 'How long, continuously' }),
    approvals: z.number().int().min(0).max(10).default(0).openapi({ description: 'Approvals from promoters other than the publisher' }),
  })
  .strict()
  .openapi('GateConfig');

const Weekday = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
const ClockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (00:00 to 23:59)');
export const Window = z
  .object({ days: z.array(Weekday).min(1).max(7).optional(), start: ClockTime, end: ClockTime })
  .strict()
  .openapi('Window', { description: 'A weekly window; end before start spans midnight; days are the days it starts on (default: every day)' });
export const WindowPolicy = z
  .object({ timeZone: z.string().max(64).default('UTC'), allow: z.array(Window).max(20).optional(), deny: z.array(Window).max(20).optional() })
  .strict()
  .openapi('WindowPolicy');

/** One wave of a rollout: regions, or clusters by label selector. */
export const WavePlan = z
  .object({
    name: Name,
    regions: z.array(Name).min(1).max(50).optional(),
    selector: z.lazy(() => Labels).optional(),
    soakSeconds: Seconds(30 * DAY_SECONDS).default(0),
    deadlineSeconds: Seconds(30 * DAY_SECONDS).default(0).openapi({ description: 'Every cluster Ready within this after the wave moved; 0: no deadline' }),
    failureThreshold: z.number().int().min(0).max(1000).default(0).openapi({ description: 'Failed or late clusters tolerated' }),
  })
  .strict()
  .openapi('WavePlan');

const environmentFields = {
  upstream: Name.nullable().default(null),
  description: z.string().max(1000).optional(),
  gates: GateConfig.optional(),
  waves: z.array(WavePlan).max(20).optional(),
  /** A failed wave rolls the waves already moved back to the previous version. */
  autoRollback: z.boolean().default(false),
  windows: WindowPolicy.optional(),
};
export const EnvironmentSpec = z.object(environmentFields).strict().openapi('EnvironmentSpec');
export type EnvironmentSpec = z.infer<typeof EnvironmentSpec>;
export const Environment = z
  .object({ ...environmentFields, name: Name, createdAt: Timestamp, updatedAt: Timestamp })
  .openapi('Environment');
export type Environment = z.infer<typeof Environment>;

/** `track` follows the highest non-blocked release in range; null means manual (moved only by promotions). */
export const PolicySpec = z
  .object({
    track: SemverRange.nullable(),
    /** In this environment, also require a cosign signature by this key (on top of the app's own `verify`). */
    verify: SignatureVerification.nullable().optional(),
  })
  .strict()
  .openapi('PolicySpec');
export type PolicySpec = z.infer<typeof PolicySpec>;

export const PromotionKind = z.enum(['promote', 'rollback', 'auto', 'break-glass']);
export const Gate = z
  .object({
    name: z.string(),
    passed: z.boolean(),
    detail: z.string(),
    evidence: z.record(z.string(), z.unknown()).optional(),
    /** A failed gate a promoter overrode (break-glass), with the reason given. */
    overridden: z.string().optional(),
  })
  .openapi('Gate');
export type Gate = z.infer<typeof Gate>;

export const PromotionRecord = z
  .object({
    app: Name,
    environment: Name,
    region: Name.nullable(),
    seq: z.number().int(),
    fromVersion: z.string().nullable(),
    toVersion: z.string(),
    digest: Digest,
    actor: z.string(),
    reason: z.string(),
    kind: PromotionKind,
    at: Timestamp,
    gates: z.array(Gate),
    /** The Idempotency-Key of the request that wrote the record, when it sent one. */
    idempotencyKey: z.string().optional(),
    /** The id of the record's audit event. */
    eventId: z.string().optional(),
    /** The rollout that wrote the record, and the wave (a cluster group) it pins, if any. */
    rollout: z.string().optional(),
    /** Set on the records of a recall: the id of the recall's one event. */
    recall: z.string().optional(),
    group: Name.optional(),
    /** A wave group pin's place in its environment's wave plan: clusters resolve the first group they match. */
    waveIndex: z.number().int().optional(),
    selector: z.record(z.string(), z.string()).optional(),
  })
  .openapi('PromotionRecord');
export type PromotionRecord = z.infer<typeof PromotionRecord>;

export const PromotionInput = z
  .object({
    environment: Name,
    version: Version,
    region: Name.optional(),
    reason: Reason,
    override: Reason.optional().openapi({ description: 'Break-glass: go through failed gates, for this reason (recorded)' }),
  })
  .strict()
  .openapi('PromotionInput');
export type PromotionInput = z.infer<typeof PromotionInput>;
export const RollbackInput = z
  .object({ environment: Name, region: Name.optional(), reason: Reason })
  .strict()
  .openapi('RollbackInput');
export type RollbackInput = z.infer<typeof RollbackInput>;

export const Pin = z
  .object({ region: Name.nullable(), version: z.string(), digest: Digest, seq: z.number().int(), at: Timestamp })
  .openapi('Pin');

export const PolicyView = z
  .object({
    app: Name,
    environment: Name,
    track: z.string().nullable(),
    /** The environment's signature requirement; the app's own `verify` applies as well. */
    // A union, not .nullable(): SignatureVerification is also used non-null, and zod-to-openapi would
    // render .nullable() as allOf [$ref, null-or-object], which no null satisfies (schemathesis found it).
    verify: z.union([SignatureVerification, z.null()]),
    pins: z.array(Pin),
    /** What a cluster without a region pin runs, and per pinned region. */
    resolved: z.object({ version: z.string().nullable(), regions: z.record(z.string(), z.string()) }),
  })
  .openapi('PolicyView');
export type PolicyView = z.infer<typeof PolicyView>;

const clusterFields = { environment: Name, region: Name, labels: Labels.default({}) };
export const ClusterSpec = z.object(clusterFields).strict().openapi('ClusterSpec');
export type ClusterSpec = z.infer<typeof ClusterSpec>;

export const Suspension = z
  .object({ by: z.string(), reason: z.string(), at: Timestamp, until: Timestamp.nullable() })
  .openapi('Suspension');

export const SuspendInput = z
  .object({ reason: Reason, app: Name.optional(), until: InputTimestamp.optional() })
  .strict()
  .openapi('SuspendInput');
export type SuspendInput = z.infer<typeof SuspendInput>;

export const Phase = z.enum(['Ready', 'Progressing', 'Failed', 'Suspended']);
export type Phase = z.infer<typeof Phase>;

export const AppStatusSummary = z
  .object({
    version: z.string().nullable(),
    digest: z.string().nullable(),
    phase: Phase,
    reason: z.string().optional(),
    drifted: z.number().int(),
    at: Timestamp,
    /** When it became Ready at this version (continuously since). */
    readySince: Timestamp.optional(),
  })
  .openapi('AppStatusSummary');
export type AppStatusSummary = z.infer<typeof AppStatusSummary>;

export const Cluster = z.object({
  ...clusterFields,
  name: Name,
  createdAt: Timestamp,
  registered: z.boolean(),
  revoked: z.boolean(),
  keyId: z.string().nullable(),
  suspended: Suspension.nullable(),
  suspendedApps: z.record(z.string(), Suspension),
  lastSeen: Timestamp.nullable(),
  stale: z.boolean(),
  apps: z.record(z.string(), AppStatusSummary),
}).openapi('Cluster');
export type Cluster = z.infer<typeof Cluster>;

export const RegistrationToken = z
  .object({ token: z.string(), expiresAt: Timestamp, cluster: Name })
  .openapi('RegistrationToken');
export type RegistrationToken = z.infer<typeof RegistrationToken>;

const Jwk = z.record(z.string(), z.unknown()).openapi({ example: { kty: 'OKP', crv: 'Ed25519', x: '…' } });

export const AgentRegistration = z.object({ publicKey: Jwk }).strict().openapi('AgentRegistration');
export type AgentRegistration = z.infer<typeof AgentRegistration>;
export const AgentIdentity = z
  .object({ cluster: Name, environment: Name, region: Name, keyId: z.string(), audience: z.string() })
  .openapi('AgentIdentity');
export type AgentIdentity = z.infer<typeof AgentIdentity>;

export const DesiredApp = z
  .object({
    name: Name,
    version: z.string(),
    digest: Digest,
    repository: z.string(),
    path: z.string(),
    namespace: z.string(),
    prune: z.boolean(),
    wait: z.boolean(),
    timeoutSeconds: z.number().int(),
    recreate: z.boolean(),
    suspended: z.boolean(),
    /** Apps of this cluster to be Ready at their desired version first; older control planes leave it out. */
    dependsOn: z.array(z.string()).optional(),
    /** `report`: drift is reported and left in place; absent means `correct`. */
    drift: DriftMode.optional(),
    /**
     * Signatures the artifact must carry before the agent pulls a layer: one valid cosign signature
     * per key (the app's and its environment's). Absent: none required.
     */
    verify: z
      .object({
        provider: z.literal('cosign'),
        keys: z.array(z.object({ from: z.enum(['app', 'environment']), publicKey: z.string() })).min(1).max(2),
      })
      .optional(),
    /** This cluster's variables (cluster < environment < cluster values); absent: no substitution. */
    variables: z.record(z.string(), z.string()).optional(),
    /** Secrets in the agent's namespace whose data are variables too, over the ones above. */
    valuesFrom: z.array(z.object({ secret: z.string(), optional: z.boolean() })).optional(),
  })
  .openapi('DesiredApp');
export type DesiredApp = z.infer<typeof DesiredApp>;

export const DesiredState = z
  .object({
    cluster: Name,
    environment: Name,
    region: Name,
    suspended: z.boolean(),
    apps: z.array(DesiredApp),
    /** Seconds between check-ins the control plane asks for. */
    interval: z.number().int(),
    /** Seconds between the agent's heartbeats (a check-in with `?heartbeat=1`); older control planes leave it out. */
    heartbeat: z.number().int().optional(),
  })
  .openapi('DesiredState');
export type DesiredState = z.infer<typeof DesiredState>;

const JsonValue: z.ZodType<unknown> = z.unknown();

export const DriftField = z
  .object({ path: z.string().max(1024), before: JsonValue, after: JsonValue })
  .openapi('DriftField');
export const DriftEntry = z
  .object({
    /** `Kind/namespace/name` or `Kind/name` for cluster-scoped objects. */
    object: z.string().max(512),
    fields: z.array(DriftField).max(LIMITS.maxDriftFields),
    corrected: z.boolean(),
  })
  .openapi('DriftEntry');
export type DriftEntry = z.infer<typeof DriftEntry>;

export const AppReport = z
  .object({
    name: Name,
    version: z.string().max(128).nullable(),
    digest: Digest.nullable(),
    phase: Phase,
    reason: z.string().max(128).optional(),
    message: z.string().max(4096).optional(),
    conditions: z
      .array(z.object({ type: z.string(), status: z.string(), reason: z.string().optional(), message: z.string().optional() }))
      .max(LIMITS.maxConditions)
      .default([]),
    drift: z.array(DriftEntry).max(LIMITS.maxDriftEntries).default([]),
    counts: z
      .record(z.string().regex(/^[a-z]{1,32}$/, 'must be an action such as created or unchanged').refine((key) => !isReservedKey(key), 'is a reserved word'), z.number().int().min(0))
      .default({}),
  })
  .openapi('AppReport');
export type AppReport = z.infer<typeof AppReport>;

export const AgentReport = z
  .object({ apps: z.array(AppReport).max(LIMITS.maxReportApps), agentVersion: z.string().max(64).optional() })
  .strict()
  .openapi('AgentReport');
export type AgentReport = z.infer<typeof AgentReport>;


export const Role = z.enum(['admin', 'publisher', 'promoter', 'viewer']);
export type Role = z.infer<typeof Role>;
export const Grant = z
  .object({ role: Role, apps: z.array(Name).optional(), environments: z.array(Name).optional() })
  .strict()
  .openapi('Grant');
export type Grant = z.infer<typeof Grant>;

export const TokenInput = z
  .object({
    subject: z.string().min(1).max(256),
    grants: z.array(Grant).min(1).max(20),
    ttlSeconds: z.number().int().min(60).max(366 * 24 * 3600).default(30 * 24 * 3600),
  })
  .strict()
  .openapi('TokenInput');
export type TokenInput = z.infer<typeof TokenInput>;
export const IssuedToken = z
  .object({ id: z.string(), token: z.string(), subject: z.string(), grants: z.array(Grant), expiresAt: Timestamp })
  .openapi('IssuedToken');
export type IssuedToken = z.infer<typeof IssuedToken>;

export const Event = z
  .object({
    id: z.string(),
    type: z.string(),
    at: Timestamp,
    actor: z.string(),
    app: z.string().optional(),
    environment: z.string().optional(),
    region: z.string().optional(),
    cluster: z.string().optional(),
    message: z.string(),
    data: z.record(z.string(), z.unknown()).optional(),
  })
  .openapi('Event');
export type Event = z.infer<typeof Event>;

export const ClusterDrift = z
  .object({
    cluster: Name,
    reportedAt: Timestamp.nullable(),
    /** The latest full report: what is drifted now (and what the last cycle corrected). */
    apps: z.array(AppReport),
    /** Recent drift.detected / drift.corrected events, newest first: drift that was already corrected stays visible. */
    events: z.array(Event),
  })
  .openapi('ClusterDrift');
export type ClusterDrift = z.infer<typeof ClusterDrift>;

export const FleetCell = z
  .object({
    app: Name,
    environment: Name,
    region: Name,
    desiredVersion: z.string().nullable(),
    clusters: z.number().int(),
    phases: z.record(z.string(), z.number().int()),
    versions: z.record(z.string(), z.number().int()),
    drifted: z.number().int(),
    stale: z.number().int(),
    /** The app's latest rollout in the environment: its status and, per wave, where it is. */
    rollout: z
      .object({ id: z.string(), version: z.string(), status: z.string(), waves: z.array(z.object({ name: z.string(), status: z.string() })) })
      .nullable()
      .optional(),
  })
  .openapi('FleetCell');
export type FleetCell = z.infer<typeof FleetCell>;
export const Fleet = z.object({ cells: z.array(FleetCell), generatedAt: Timestamp }).openapi('Fleet');
export type Fleet = z.infer<typeof Fleet>;

export const ErrorCode = z.enum([
  'bad_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'method_not_allowed',
  'conflict',
  'payload_too_large',
  'unsupported_media_type',
  'unavailable',
  'internal',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;
export const ErrorEnvelope = z
  .object({ error: z.object({ code: ErrorCode, message: z.string(), requestId: z.string() }) })
  .openapi('Error');

export function list<T extends z.ZodType>(item: T, name: string) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() }).openapi(name);
}

export const BlockInput = z
  .object({
    reason: Reason,
    recall: z.boolean().default(false).openapi({ description: 'Also move every pin and rollout holding the release back to the newest good version of its history' }),
  })
  .strict()
  .openapi('BlockInput');
export type BlockInput = z.infer<typeof BlockInput>;

export const ApprovalInput = z.object({ environment: Name, reason: Reason }).strict().openapi('ApprovalInput');
export type ApprovalInput = z.infer<typeof ApprovalInput>;
export const Approval = z
  .object({ app: Name, version: z.string(), environment: Name, actor: z.string(), reason: z.string(), at: Timestamp })
  .openapi('Approval');
export type Approval = z.infer<typeof Approval>;

export const FreezeInput = z
  .object({ reason: Reason, until: InputTimestamp.optional().openapi({ description: 'When it lifts by itself; default: when lifted' }) })
  .strict()
  .openapi('FreezeInput');
export type FreezeInput = z.infer<typeof FreezeInput>;
export const Freeze = z
  .object({ reason: z.string(), by: z.string(), at: Timestamp, until: Timestamp.nullable() })
  .openapi('Freeze');
export type Freeze = z.infer<typeof Freeze>;
export const FreezeState = z.object({ frozen: z.boolean(), freeze: Freeze.nullable() }).openapi('FreezeState');
export type FreezeState = z.infer<typeof FreezeState>;

export const WaveStatus = z.enum(['pending', 'moving', 'done', 'failed']);
export const RolloutStatus = z.enum(['running', 'paused', 'halted', 'aborted', 'completed', 'rolled-back', 'superseded', 'recalled']);
export const RolloutWave = z
  .object({
    name: z.string(),
    status: WaveStatus,
    regions: z.array(z.string()).optional(),
    selector: z.record(z.string(), z.string()).optional(),
    soakSeconds: z.number().int(),
    deadlineSeconds: z.number().int(),
    failureThreshold: z.number().int(),
    movedAt: Timestamp.optional(),
    doneAt: Timestamp.optional(),
    failedReason: z.string().optional(),
  })
  .openapi('RolloutWave');
export const RolloutClusterProgress = z
  .object({ wave: z.string().nullable(), cluster: z.string(), phase: z.string(), version: z.string().nullable(), soakedAt: Timestamp.optional() })
  .openapi('RolloutClusterProgress');
export const Rollout = z
  .object({
    id: z.string(),
    app: Name,
    environment: Name,
    version: z.string(),
    digest: Digest,
    fromVersion: z.string().nullable(),
    actor: z.string(),
    reason: z.string(),
    status: RolloutStatus,
    autoRollback: z.boolean(),
    waves: z.array(RolloutWave),
    gates: z.array(Gate),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    /** Who paused, resumed, aborted or what halted it, last. */
    statusReason: z.string().optional(),
    /** Computed when read: each cluster of the environment with its wave and phase. */
    progress: z.array(RolloutClusterProgress).optional(),
  })
  .openapi('Rollout');
export type Rollout = z.infer<typeof Rollout>;
export const RolloutAction = z.object({ reason: Reason }).strict().openapi('RolloutActionInput');

// Per-cluster variables (Flux postBuild.substitute): values an app's objects are substituted with,
// per environment and per cluster, set through PUT /v1/apps/{app}/values. Sensitive values come
// from Secrets in the cluster (AppSpec.valuesFrom) and never reach the control plane.
export { VARIABLE_NAME } from '../limits.ts';
export const VariableName = z
  .string()
  .max(LIMITS.maxVariableNameChars)
  .regex(VARIABLE_NAME, 'must be a variable name ([_a-zA-Z][_a-zA-Z0-9]*)')
  .refine((name) => !isReservedKey(name), 'is a reserved word');
export const Variables = z
  .record(z.string(), z.string().max(LIMITS.maxVariableValueChars))
  .superRefine((variables, ctx) => {
    const names = Object.keys(variables);
    if (names.length > LIMITS.maxVariablesPerScope) ctx.addIssue({ code: 'custom', message: `at most ${LIMITS.maxVariablesPerScope} variables` });
    // Checked here rather than as the record's key schema, so the message names the variable and says why.
    for (const name of names) {
      const checked = VariableName.safeParse(name);
      if (!checked.success) ctx.addIssue({ code: 'custom', path: [name], message: checked.error.issues[0]!.message });
    }
  })
  .openapi('Variables', {
    description: `Variable name → value; names match ${VARIABLE_NAME.source} (at most ${LIMITS.maxVariableNameChars} characters), values at most ${LIMITS.maxVariableValueChars} characters`,
    example: { replicas: '3', log_level: 'info' },
  });
export type Variables = z.infer<typeof Variables>;


const valuesFields = {
  environments: z
    .record(Name, Variables)
    .refine((map) => Object.keys(map).length <= LIMITS.maxValueScopes, `at most ${LIMITS.maxValueScopes} environments`)
    .default({})
    .openapi({ description: 'Per environment: variables every cluster of the environment gets' }),
  clusters: z
    .record(Name, Variables)
    .refine((map) => Object.keys(map).length <= LIMITS.maxValueScopes, `at most ${LIMITS.maxValueScopes} clusters`)
    .default({})
    .openapi({ description: 'Per cluster: variables that override the environment\'s' }),
};
export const AppValuesInput = z
  .object(valuesFields)
  .strict()
  .refine((values) => Buffer.byteLength(JSON.stringify(values)) <= LIMITS.maxAppValuesBytes, `the values take at most ${LIMITS.maxAppValuesBytes} bytes as JSON`)
  .openapi('AppValuesInput');
export type AppValuesInput = z.infer<typeof AppValuesInput>;
export const AppValues = z
  .object({ ...valuesFields, app: Name, updatedAt: Timestamp.nullable(), updatedBy: z.string().nullable() })
  .openapi('AppValues');
export type AppValues = z.infer<typeof AppValues>;
