// Builds the services once per process (a warm Lambda reuses them) from clients and settings.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import type { JWK } from 'jose';
import { OidcSignIn, type OidcSignInConfig } from './auth/oidc-client.ts';
import { TokenService, type OidcIssuer } from './auth/tokens.ts';
import { DEFAULT_CONFIG, type Config, type Services } from './context.ts';
import { createStorage } from './storage/index.ts';

/** Settings that differ from DEFAULT_CONFIG; notification settings one by one too. */
export type ConfigOverrides = Partial<Omit<Config, 'notify'>> & { notify?: Partial<Config['notify']> };

export interface ServiceOptions {
  dynamo: DynamoDBClient;
  s3: S3Client;
  tableName: string;
  bucket: string;
  signingKeys: JWK[];
  issuer: string;
  audience: string;
  oidc?: OidcIssuer[];
  /** The dashboard's OIDC sign-in: a client of one of `oidc`'s issuers. */
  signIn?: OidcSignInConfig;
  config?: ConfigOverrides;
  now?: () => Date;
}

export async function buildServices(options: ServiceOptions): Promise<Services> {
  const now = options.now ?? (() => new Date());
  const { signIn } = options;
  if (signIn && !options.oidc?.some((issuer) => issuer.issuer === signIn.issuer && issuer.audience === signIn.clientId)) {
    throw new Error(`buildServices: the sign-in issuer ${signIn.issuer} must be a federated OIDC issuer whose audience is the client id ${signIn.clientId}`);
  }
  return {
    storage: createStorage({ dynamo: options.dynamo, s3: options.s3 }, { table: options.tableName, bucket: options.bucket }),
    tokens: await TokenService.create({
      signingKeys: options.signingKeys,
      issuer: options.issuer,
      audience: options.audience,
      oidc: options.oidc,
      now,
    }),
    config: { ...DEFAULT_CONFIG, ...options.config, notify: { ...DEFAULT_CONFIG.notify, ...options.config?.notify } },
    now,
    ...(signIn ? { signIn: new OidcSignIn(signIn) } : {}),
  };
}
