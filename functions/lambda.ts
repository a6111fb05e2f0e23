// AWS Lambda entry (Function URL / API Gateway v2). Services are built once per container and
// reused by warm invocations; settings come from the environment SST sets (see infra/).
import { handle } from 'hono/aws-lambda';
import type { JWK } from 'jose';
import { createApp } from './app.ts';
import type { OidcIssuer } from './auth/tokens.ts';
import { createClients } from './clients.ts';
import { buildServices } from './services.ts';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function parseJson<T>(name: string, fallback: T): T {
  const value = process.env[name];
  if (!value) return fallback;
  try {
    return JSON.parse(value) as T;
  } catch {
    throw new Error(`${name} is not valid JSON`);
  }
}

export async function servicesFromEnvironment() {
  const { dynamo, s3 } = createClients({
    dynamoEndpoint: process.env.FLOTILLA_DYNAMODB_ENDPOINT,
    s3Endpoint: process.env.FLOTILLA_S3_ENDPOINT,
  });
  return buildServices({
    dynamo,
    s3,
    tableName: required('FLOTILLA_TABLE'),
    bucket: required('FLOTILLA_BUCKET'),
    signingKeys: parseJson<JWK[]>('FLOTILLA_SIGNING_KEYS', []),
    issuer: process.env.FLOTILLA_ISSUER ?? 'flotilla',
    audience: process.env.FLOTILLA_AUDIENCE ?? 'flotilla',
    oidc: parseJson<OidcIssuer[]>('FLOTILLA_OIDC', []),
  });
}

let cached: ReturnType<typeof handle> | undefined;

export const handler: ReturnType<typeof handle> = async (event, context) => {
  cached ??= handle(createApp(await servicesFromEnvironment()));
  return cached(event, context);
};
