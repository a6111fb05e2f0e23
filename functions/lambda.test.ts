// The Lambda entry's cold start: settings from the environment, signing keys from an SSM
// SecureString parameter (moto's SSM here), never from a plaintext variable on AWS.
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTestEnv } from '../test/env/inject.ts';
import { createApp } from './app.ts';
import { generateSigningKey } from './auth/tokens.ts';
import { servicesFromEnvironment } from './lambda.ts';
import { createTableInput } from './storage/schema.ts';

const moto = requireTestEnv().moto;
const name = `flotilla-lambda-${process.pid}`;
const credentials = { AWS_ACCESS_KEY_ID: moto.accessKeyId, AWS_SECRET_ACCESS_KEY: moto.secretAccessKey, AWS_REGION: moto.region };
const clientConfig = { region: moto.region, endpoint: moto.endpoint, credentials: { accessKeyId: moto.accessKeyId, secretAccessKey: moto.secretAccessKey } };
const ssm = new SSMClient(clientConfig);
const saved = { ...process.env };

const env = (extra: Record<string, string>) => ({
  FLOTILLA_TABLE: name,
  FLOTILLA_BUCKET: name,
  FLOTILLA_DYNAMODB_ENDPOINT: moto.endpoint,
  FLOTILLA_S3_ENDPOINT: moto.endpoint,
  FLOTILLA_SSM_ENDPOINT: moto.endpoint,
  ...extra,
});

beforeAll(async () => {
  // The SDK clients the entry builds take their credentials and region from the environment, as on Lambda.
  Object.assign(process.env, credentials);
  const dynamo = new DynamoDBClient(clientConfig);
  await dynamo.send(new CreateTableCommand(createTableInput(name)));
  dynamo.destroy();
  const s3 = new S3Client({ ...clientConfig, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: name }));
  s3.destroy();
});
afterAll(() => {
  process.env = saved;
  ssm.destroy();
});

describe('Lambda cold start', () => {
  it('reads and decrypts the signing keys from a SecureString parameter', async () => {
    const key = await generateSigningKey();
    await ssm.send(new PutParameterCommand({ Name: `/flotilla/${name}/signing-keys`, Type: 'SecureString', Value: JSON.stringify([key]) }));
    const services = await servicesFromEnvironment(env({ FLOTILLA_SIGNING_KEYS_PARAMETER: `/flotilla/${name}/signing-keys` }));
    expect(services.tokens.publicJwks.keys[0]).toMatchObject({ kid: key.kid });
    const { token } = await services.tokens.mintUserToken({ subject: 'admin', grants: [{ role: 'admin' }], ttlSeconds: 60 });
    const res = await createApp(services).request('/v1/apps', { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
  });

  it('fails in one sentence when the parameter is missing or holds no keys', async () => {
    await expect(servicesFromEnvironment(env({ FLOTILLA_SIGNING_KEYS_PARAMETER: '/flotilla/nowhere' }))).rejects.toThrow(
      /^flotilla control plane: cannot read the signing keys parameter \/flotilla\/nowhere: /,
    );
    await ssm.send(new PutParameterCommand({ Name: `/flotilla/${name}/junk`, Type: 'SecureString', Value: 'not json' }));
    await expect(servicesFromEnvironment(env({ FLOTILLA_SIGNING_KEYS_PARAMETER: `/flotilla/${name}/junk` }))).rejects.toThrow(/is not a JSON array of private JWKs$/);
  });

  it('needs exactly one source of signing keys', async () => {
    await expect(servicesFromEnvironment(env({}))).rejects.toThrow(/set exactly one of FLOTILLA_SIGNING_KEYS_PARAMETER/);
  });
});
