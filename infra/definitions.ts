// SST resource arguments derived from the storage definitions in code, so the deployed table and
// bucket are exactly what functions/storage expects. Pure data: tested without AWS.
import { TABLE } from '../functions/storage/schema.ts';

export const LAMBDA_RUNTIME = 'nodejs24.x';
export const LAMBDA_ARCHITECTURE = 'arm64';
/** What `npm run build` writes (scripts/build.ts) and SST uploads as it is: no second bundler. */
export const LAMBDA_BUNDLE = 'dist/lambda';
export const LAMBDA_HANDLER = 'index.handler';
/** The clock (rollout soaks and deadlines), on an EventBridge schedule. */
export const CLOCK_HANDLER = 'index.clock';
export const CLOCK_SCHEDULE = 'rate(1 minute)';
/** The notification dispatcher: on the table's stream when an event is written, and on a schedule for retries. */
export const NOTIFY_HANDLER = 'index.notify';
export const NOTIFY_SCHEDULE = 'rate(1 minute)';
/** Stream records that wake the dispatcher: items entering the outbox (a new event; storage/keys.ts `due`). */
export const NOTIFY_STREAM_FILTER = { dynamodb: { NewImage: { gsi3pk: { S: ['OUTBOX'] } } } } as const;
/** The stage whose data must survive a mistake: deletion protection, resources retained on removal. */
export const PRODUCTION_STAGE = 'production';

export function tableArgs(stage: string) {
  const keys = [TABLE.partitionKey, TABLE.sortKey, ...Object.values(TABLE.indexes).flatMap((i) => [i.partitionKey, i.sortKey])];
  return {
    fields: Object.fromEntries(keys.map((key) => [key, 'string' as const])),
    primaryIndex: { hashKey: TABLE.partitionKey, rangeKey: TABLE.sortKey },
    globalIndexes: Object.fromEntries(
      Object.entries(TABLE.indexes).map(([name, index]) => [name, { hashKey: index.partitionKey, rangeKey: index.sortKey }]),
    ),
    ttl: TABLE.ttlAttribute,
    // The notification dispatcher subscribes to it (infra/control-plane.ts).
    stream: 'new-image' as const,
    deletionProtection: stage === PRODUCTION_STAGE,
    // SST turns point-in-time recovery on already; said here so no default can quietly change it.
    transform: { table: { pointInTimeRecovery: { enabled: true } } },
  };
}

/** The reports bucket: versioned, encrypted at rest, never public, HTTPS only. */
export function bucketArgs() {
  return {
    versioning: true,
    enforceHttps: true,
    transform: {
      publicAccessBlock: { blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
    },
  };
}
/** SSE-S3 (AES-256, S3-managed keys): no KMS key to grant or pay for; S3 Bucket Keys on. */
export const BUCKET_ENCRYPTION = { sseAlgorithm: 'AES256' } as const;
/** Reports are content-addressed and never change; an overwritten or deleted version is kept this long. */
export const NONCURRENT_VERSION_DAYS = 30;

/**
 * The only rights the function has (instead of SST's `link`, which grants dynamodb:* and s3:*): the
 * item operations functions/storage uses on its table and indexes, reading and writing objects in
 * its bucket (ListBucket so a missing report is a 404, not a 403), and its signing keys parameter.
 */
export function functionPermissions(refs: { tableArn: unknown; bucketArn: unknown; signingKeysParameterArn: unknown; interpolate: (strings: TemplateStringsArray, ...values: unknown[]) => unknown }) {
  const { interpolate } = refs;
  return [
    {
      actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query', 'dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem'],
      resources: [refs.tableArn, interpolate`${refs.tableArn}/index/*`],
    },
    { actions: ['s3:GetObject', 's3:PutObject'], resources: [interpolate`${refs.bucketArn}/*`] },
    { actions: ['s3:ListBucket'], resources: [refs.bucketArn] },
    // SecureStrings under the AWS-managed aws/ssm key need no KMS grant.
    { actions: ['ssm:GetParameter'], resources: [refs.signingKeysParameterArn] },
  ];
}

/** Where the signing keys live on AWS: an SSM SecureString parameter per stage. */
export const signingKeysParameterName = (stage: string) => `/flotilla/${stage}/signing-keys`;

/**
 * Settings the Lambda reads at start (functions/lambda.ts); values are SST outputs. The signing
 * keys are not among them: only the name of the parameter that holds them, encrypted.
 */
export function functionEnvironment(refs: { table: unknown; bucket: unknown; signingKeysParameter: unknown; oidc: unknown; dashboardOidc: unknown; stage: string }) {
  return {
    FLOTILLA_TABLE: refs.table,
    FLOTILLA_BUCKET: refs.bucket,
    FLOTILLA_SIGNING_KEYS_PARAMETER: refs.signingKeysParameter,
    FLOTILLA_OIDC: refs.oidc,
    FLOTILLA_UI_OIDC: refs.dashboardOidc,
    FLOTILLA_ISSUER: `flotilla-${refs.stage}`,
    FLOTILLA_AUDIENCE: 'flotilla',
  };
}
