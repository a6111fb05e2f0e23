// A "deployed" control-plane function on moto: its table, bucket and signing-keys SecureString
// created there, and the environment the function gets on AWS (infra/definitions.ts's
// functionEnvironment) with the endpoints pointed at moto and fake credentials as Lambda sets
// them. Shared by test/lambda/runtime.test.ts and `npm run bench:lambda`.
import { DeleteParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { JWK } from 'jose';
import { TokenService, generateSigningKey } from '../../functions/auth/tokens.ts';
import { connectStorage } from '../../functions/embedded-storage.ts';
import { functionEnvironment, signingKeysParameterName } from '../../infra/definitions.ts';

export interface MotoEndpoint {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface Deployment {
  /** The table and bucket name. */
  name: string;
  stage: string;
  parameterName: string;
  signingKey: JWK;
  /** FLOTILLA_* and AWS_* variables of the function, for startEmulator's `environment`. */
  environment: Record<string, string>;
  /** A control-plane token minted offline from the signing key, as `npm run admin-token` does. */
  adminToken(): Promise<string>;
  /** Writes the signing-keys parameter (deployOnMoto does unless told not to). */
  putParameter(): Promise<void>;
  /** Deletes the signing-keys parameter (the table and bucket stay, as moto's others do). */
  cleanup(): Promise<void>;
}

export async function deployOnMoto(moto: MotoEndpoint, stage: string, options: { createParameter?: boolean } = {}): Promise<Deployment> {
  const name = `flotilla-${stage}`;
  const parameterName = signingKeysParameterName(stage);
  const credentials = { accessKeyId: moto.accessKeyId, secretAccessKey: moto.secretAccessKey };
  // The table and bucket exactly as the app creates them elsewhere (functions/storage/schema.ts).
  const clients = await connectStorage({ region: moto.region, dynamoEndpoint: moto.endpoint, s3Endpoint: moto.endpoint, credentials }, name, name);
  clients.dynamo.destroy();
  clients.s3.destroy();
  const signingKey = await generateSigningKey();
  const ssm = new SSMClient({ region: moto.region, endpoint: moto.endpoint, credentials });
  const putParameter = async () => {
    await ssm.send(new PutParameterCommand({ Name: parameterName, Type: 'SecureString', Value: JSON.stringify([signingKey]), Overwrite: true }));
  };
  if (options.createParameter !== false) await putParameter();

  const infra = functionEnvironment({ table: name, bucket: name, signingKeysParameter: parameterName, oidc: '[]', dashboardOidc: '', stage });
  const environment: Record<string, string> = {
    ...(Object.fromEntries(Object.entries(infra).map(([key, value]) => [key, String(value)])) as Record<string, string>),
    FLOTILLA_DYNAMODB_ENDPOINT: moto.endpoint,
    FLOTILLA_S3_ENDPOINT: moto.endpoint,
    FLOTILLA_SSM_ENDPOINT: moto.endpoint,
    // What Lambda sets for every function: the region and the execution role's session credentials.
    AWS_REGION: moto.region,
    AWS_DEFAULT_REGION: moto.region,
    AWS_ACCESS_KEY_ID: moto.accessKeyId,
    AWS_SECRET_ACCESS_KEY: moto.secretAccessKey,
    AWS_SESSION_TOKEN: 'flotilla-test-session',
  };
  let tokens: TokenService | undefined;
  return {
    name,
    stage,
    parameterName,
    signingKey,
    environment,
    async adminToken() {
      tokens ??= await TokenService.create({ signingKeys: [signingKey], issuer: environment.FLOTILLA_ISSUER!, audience: environment.FLOTILLA_AUDIENCE! });
      return (await tokens.mintUserToken({ subject: 'admin', grants: [{ role: 'admin' }], ttlSeconds: 3600 })).token;
    },
    putParameter,
    async cleanup() {
      await ssm.send(new DeleteParameterCommand({ Name: parameterName })).catch(() => undefined);
      ssm.destroy();
    },
  };
}
