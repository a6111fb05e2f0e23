// AWS Lambda entry (Function URL / API Gateway v2). Services are built once per container and
// reused by warm invocations; settings come from the environment SST sets (see infra/).
import { handle } from 'hono/aws-lambda';
import type { JWK } from 'jose';
import { parseSettings } from '../lib/settings.ts';
import { createApp } from './app.ts';
import type { OidcIssuer } from './auth/tokens.ts';
import { createClients } from './clients.ts';
import { buildServices } from './services.ts';
import { LambdaSettings } from './settings.ts';

export async function servicesFromEnvironment(env: Record<string, string | undefined> = process.env) {
  const settings = parseSettings('flotilla control plane', LambdaSettings, env);
  const { dynamo, s3 } = createClients({ dynamoEndpoint: settings.FLOTILLA_DYNAMODB_ENDPOINT, s3Endpoint: settings.FLOTILLA_S3_ENDPOINT });
  return buildServices({
    dynamo,
    s3,
    tableName: settings.FLOTILLA_TABLE,
    bucket: settings.FLOTILLA_BUCKET,
    signingKeys: settings.FLOTILLA_SIGNING_KEYS as JWK[],
    issuer: settings.FLOTILLA_ISSUER,
    audience: settings.FLOTILLA_AUDIENCE,
    oidc: settings.FLOTILLA_OIDC as OidcIssuer[],
  });
}

let cached: ReturnType<typeof handle> | undefined;

export const handler: ReturnType<typeof handle> = async (event, context) => {
  cached ??= handle(createApp(await servicesFromEnvironment()));
  return cached(event, context);
};
