// The control plane on AWS: one table, one bucket, one function behind a Function URL, two secrets.
// Runs inside `sst deploy`, where the `sst` and `$app` globals exist.
import { LAMBDA_HANDLER, LAMBDA_RUNTIME, functionEnvironment, tableArgs } from './definitions.ts';

/* eslint-disable @typescript-eslint/no-explicit-any -- SST's globals are typed by its generated platform files */
declare const sst: any;
declare const $app: any;

export function deployControlPlane() {
  const table = new sst.aws.Dynamo('Table', tableArgs());
  const bucket = new sst.aws.Bucket('Reports');
  // Private Ed25519 JWKs as a JSON array: `sst secret set SigningKeys "$(npm run -s keygen)"`.
  const signingKeys = new sst.Secret('SigningKeys');
  // Trusted OIDC issuers with claim → role rules (JSON); none by default.
  const oidc = new sst.Secret('OidcIssuers', '[]');
  const api = new sst.aws.Function('Api', {
    handler: LAMBDA_HANDLER,
    runtime: LAMBDA_RUNTIME,
    architecture: 'arm64',
    memory: '512 MB',
    timeout: '20 seconds',
    url: true,
    link: [table, bucket],
    environment: functionEnvironment({
      table: table.name,
      bucket: bucket.name,
      signingKeys: signingKeys.value,
      oidc: oidc.value,
      stage: $app.stage,
    }),
  });
  return { url: api.url, table: table.name, bucket: bucket.name };
}
