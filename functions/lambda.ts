// AWS Lambda entry (Function URL / API Gateway v2). Services are built once per container and
// reused by warm invocations; settings come from the environment SST sets (see infra/), the
// signing keys from an SSM SecureString parameter, decrypted at cold start.
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { handle } from 'hono/aws-lambda';
import type { JWK } from 'jose';
import { parseSettings, SettingsError } from '../lib/settings.ts';
import { createApp } from './app.ts';
import type { OidcIssuer } from './auth/tokens.ts';
import { createClients } from './clients.ts';
import { runClock } from './clock.ts';
import type { Services } from './context.ts';
import { buildServices } from './services.ts';
import { dispatchOnce } from './notify/dispatcher.ts';
import { LambdaSettings, SigningKeyList, notifyConfig } from './settings.ts';

const PROGRAM = 'flotilla control plane';
/** No notification attempt starts later than this into a run (the function's timeout is 60 s, an attempt's 10 s). */
const NOTIFY_BUDGET_MS = 40_000;

/** The signing keys held in a SecureString parameter; any problem is one sentence naming it. */
async function signingKeysFromParameter(name: string, endpoint: string | undefined): Promise<JWK[]> {
  const ssm = new SSMClient({ endpoint, maxAttempts: 3 });
  let value: string | undefined;
  try {
    value = (await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }))).Parameter?.Value;
  } catch (err) {
    throw new SettingsError(`${PROGRAM}: cannot read the signing keys parameter ${name}: ${(err as Error).message}`);
  } finally {
    ssm.destroy();
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(value ?? '');
  } catch {
    parsed = null;
  }
  const keys = SigningKeyList.safeParse(parsed);
  if (!keys.success) throw new SettingsError(`${PROGRAM}: the signing keys parameter ${name} is not a JSON array of private JWKs`);
  return keys.data as JWK[];
}

export async function servicesFromEnvironment(env: Record<string, string | undefined> = process.env) {
  const settings = parseSettings(PROGRAM, LambdaSettings, env);
  const signingKeys = settings.FLOTILLA_SIGNING_KEYS_PARAMETER
    ? await signingKeysFromParameter(settings.FLOTILLA_SIGNING_KEYS_PARAMETER, settings.FLOTILLA_SSM_ENDPOINT)
    : (settings.FLOTILLA_SIGNING_KEYS as JWK[]);
  const { dynamo, s3 } = createClients({ dynamoEndpoint: settings.FLOTILLA_DYNAMODB_ENDPOINT, s3Endpoint: settings.FLOTILLA_S3_ENDPOINT });
  return buildServices({
    dynamo,
    s3,
    tableName: settings.FLOTILLA_TABLE,
    bucket: settings.FLOTILLA_BUCKET,
    signingKeys,
    issuer: settings.FLOTILLA_ISSUER,
    audience: settings.FLOTILLA_AUDIENCE,
    oidc: settings.FLOTILLA_OIDC as OidcIssuer[],
    config: { notify: notifyConfig(settings) },
    signIn: settings.FLOTILLA_UI_OIDC,
  });
}

let services: Promise<Services> | undefined;
let cached: ReturnType<typeof handle> | undefined;

/**
 * The services, built once per execution environment. A build that fails (SSM or its parameter
 * not reachable yet, say) fails this invoke and is tried again by the next one: a failed handler
 * does not end the environment, so a cached rejection would fail every invoke it ever takes.
 */
function environmentServices(): Promise<Services> {
  services ??= servicesFromEnvironment().catch((error: unknown) => {
    services = undefined;
    throw error;
  });
  return services;
}

export const handler: ReturnType<typeof handle> = async (event, context) => {
  cached ??= handle(createApp(await environmentServices()));
  return cached(event, context);
};

/** The EventBridge schedule's target (infra/): the same clock `npm start` runs on a timer. */
export async function clock(): Promise<Awaited<ReturnType<typeof runClock>>> {
  return runClock(await environmentServices());
}

/**
 * The notification dispatcher (infra/): on a schedule (retries come due with time) and on the
 * table's stream when an event is written. Either way one run to the end, the same code
 * `npm start` runs in process; concurrent runs are safe (each attempt holds a lease).
 */
export async function notify(): Promise<Awaited<ReturnType<typeof dispatchOnce>>> {
  return dispatchOnce(await environmentServices(), NOTIFY_BUDGET_MS);
}
