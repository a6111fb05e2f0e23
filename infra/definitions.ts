// SST resource arguments derived from the storage definitions in code, so the deployed table and
// bucket are exactly what functions/storage expects. Pure data: tested without AWS.
import { TABLE } from '../functions/storage/schema.ts';

export const LAMBDA_RUNTIME = 'nodejs22.x';
export const LAMBDA_HANDLER = 'functions/lambda.handler';
/** The clock (rollout soaks and deadlines), on an EventBridge schedule. */
export const CLOCK_HANDLER = 'functions/lambda.clock';
export const CLOCK_SCHEDULE = 'rate(1 minute)';

export function tableArgs() {
  const keys = [TABLE.partitionKey, TABLE.sortKey, ...Object.values(TABLE.indexes).flatMap((i) => [i.partitionKey, i.sortKey])];
  return {
    fields: Object.fromEntries(keys.map((key) => [key, 'string' as const])),
    primaryIndex: { hashKey: TABLE.partitionKey, rangeKey: TABLE.sortKey },
    globalIndexes: Object.fromEntries(
      Object.entries(TABLE.indexes).map(([name, index]) => [name, { hashKey: index.partitionKey, rangeKey: index.sortKey }]),
    ),
    ttl: TABLE.ttlAttribute,
  };
}

/** Where the signing keys live on AWS: an SSM SecureString parameter per stage. */
export const signingKeysParameterName = (stage: string) => `/flotilla/${stage}/signing-keys`;

/**
 * Settings the Lambda reads at start (functions/lambda.ts); values are SST outputs. The signing
 * keys are not among them: only the name of the parameter that holds them, encrypted.
 */
export function functionEnvironment(refs: { table: unknown; bucket: unknown; signingKeysParameter: unknown; oidc: unknown; stage: string }) {
  return {
    FLOTILLA_TABLE: refs.table,
    FLOTILLA_BUCKET: refs.bucket,
    FLOTILLA_SIGNING_KEYS_PARAMETER: refs.signingKeysParameter,
    FLOTILLA_OIDC: refs.oidc,
    FLOTILLA_ISSUER: `flotilla-${refs.stage}`,
    FLOTILLA_AUDIENCE: 'flotilla',
  };
}
