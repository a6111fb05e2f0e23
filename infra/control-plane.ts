// The control plane on AWS: one table, one bucket, one function behind a Function URL, a clock, two
// secrets. Runs inside `sst deploy` (SST v4), where the `sst`, `aws`, `$app` and `$interpolate`
// globals exist. The function code is the bundle `npm run build` wrote (`npm run deploy` does both).
import {
  BUCKET_ENCRYPTION,
  CLOCK_HANDLER,
  CLOCK_SCHEDULE,
  LAMBDA_ARCHITECTURE,
  LAMBDA_BUNDLE,
  LAMBDA_HANDLER,
  LAMBDA_RUNTIME,
  NONCURRENT_VERSION_DAYS,
  NOTIFY_HANDLER,
  NOTIFY_SCHEDULE,
  NOTIFY_STREAM_FILTER,
  bucketArgs,
  functionEnvironment,
  functionPermissions,
  signingKeysParameterName,
  tableArgs,
} from './definitions.ts';

/* eslint-disable @typescript-eslint/no-explicit-any -- SST's globals are typed by its generated platform files */
declare const sst: any;
declare const $app: any;
declare const aws: any;
declare const $interpolate: any;

export function deployControlPlane() {
  const table = new sst.aws.Dynamo('Table', tableArgs($app.stage));
  const bucket = new sst.aws.Bucket('Reports', bucketArgs());
  new aws.s3.BucketServerSideEncryptionConfiguration('ReportsEncryption', {
    bucket: bucket.name,
    rules: [{ applyServerSideEncryptionByDefault: BUCKET_ENCRYPTION, bucketKeyEnabled: true }],
  });
  new aws.s3.BucketLifecycleConfiguration('ReportsLifecycle', {
    bucket: bucket.name,
    rules: [{ id: 'expire-noncurrent-versions', status: 'Enabled', filter: {}, noncurrentVersionExpiration: { noncurrentDays: NONCURRENT_VERSION_DAYS } }],
  });
  // Private Ed25519 JWKs as a JSON array: `sst secret set SigningKeys "$(npm run -s keygen)"`.
  // The function reads them from an encrypted SSM parameter at cold start, so they never appear
  // in its configuration (readable with lambda:GetFunctionConfiguration) as plaintext.
  const signingKeys = new sst.Secret('SigningKeys');
  const signingKeysParameter = new aws.ssm.Parameter('SigningKeysParameter', {
    name: signingKeysParameterName($app.stage),
    type: 'SecureString',
    value: signingKeys.value,
  });
  // Trusted OIDC issuers with claim → role rules (JSON); none by default.
  const oidc = new sst.Secret('OidcIssuers', '[]');
  // The dashboard's OIDC sign-in (FLOTILLA_UI_OIDC, JSON; README, "The dashboard"); unset by default.
  // Use a public client (code + PKCE needs no secret): this value sits in the function's environment.
  const dashboardOidc = new sst.Secret('DashboardOidc', '');
  const functionArgs = {
    runtime: LAMBDA_RUNTIME,
    architecture: LAMBDA_ARCHITECTURE,
    bundle: LAMBDA_BUNDLE,
    memory: '512 MB',
    timeout: '20 seconds',
    // JSON logs with the platform's at WARN: no START/END/REPORT lines per invocation (about 260
    // bytes each; at a check-in every 30 s they would cost more than the check-in's read). Errors
    // are still logged; a successful request logs nothing.
    logging: { format: 'json', retention: '1 month' },
    transform: { function: { loggingConfig: { logFormat: 'JSON', systemLogLevel: 'WARN', applicationLogLevel: 'INFO' } } },
    permissions: functionPermissions({
      tableArn: table.arn,
      bucketArn: bucket.arn,
      signingKeysParameterArn: signingKeysParameter.arn,
      interpolate: $interpolate,
    }),
    environment: functionEnvironment({
      table: table.name,
      bucket: bucket.name,
      signingKeysParameter: signingKeysParameter.name,
      oidc: oidc.value,
      dashboardOidc: dashboardOidc.value,
      stage: $app.stage,
    }),
  };
  const api = new sst.aws.Function('Api', { ...functionArgs, handler: LAMBDA_HANDLER, url: true });
  // The clock: rollout soaks and deadlines that pass with no request to notice them.
  new sst.aws.Cron('Clock', { schedule: CLOCK_SCHEDULE, function: { ...functionArgs, handler: CLOCK_HANDLER, timeout: '60 seconds' } });
  // Notifications: the dispatcher wakes on a new event (the table's stream) and every minute (retries
  // come due with time); links in messages point at this deployment's dashboard.
  const notifier = {
    ...functionArgs,
    handler: NOTIFY_HANDLER,
    timeout: '60 seconds',
    environment: { ...functionArgs.environment, FLOTILLA_PUBLIC_URL: api.url },
  };
  new sst.aws.Cron('Notify', { schedule: NOTIFY_SCHEDULE, function: notifier });
  table.subscribe('NotifyOnEvent', notifier, { filters: [NOTIFY_STREAM_FILTER] });
  return { url: api.url, table: table.name, bucket: bucket.name };
}
