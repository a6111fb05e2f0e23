// The control plane's settings, one zod schema per entry point, parsed once at start
// (lib/settings.ts says how a bad setting fails).
import { z } from 'zod';
import { intSetting, jsonSetting, portSetting, urlSetting } from '../lib/settings.ts';
import { parseAllowedRanges } from './notify/ssrf.ts';

/** The issuer of control-plane tokens when none is set; SST sets flotilla-<stage> (infra/definitions.ts). */
export const DEFAULT_ISSUER = 'flotilla';
export const DEFAULT_AUDIENCE = 'flotilla';

/** Private signing keys as a JSON array of JWKs, the first signing (`npm run keygen` prints one). */
export const SigningKeyList = z.array(z.looseObject({ kty: z.string(), d: z.string().optional(), kid: z.string().optional() }), {
  message: 'must be a JSON array of private JWKs',
});
const SigningKeys = jsonSetting(SigningKeyList);

const OidcIssuers = jsonSetting(
  z.array(
    z.looseObject({
      issuer: z.string().min(1),
      audience: z.string().min(1),
      jwksUri: z.string().optional(),
      subjectClaim: z.string().optional(),
      rules: z.array(z.looseObject({ claims: z.record(z.string(), z.union([z.string(), z.array(z.string())])), grants: z.array(z.unknown()) })),
    }),
    { message: 'must be a JSON array of {issuer, audience, rules}' },
  ),
);

/** Address ranges notification destinations may be in despite the SSRF rule, e.g. `10.0.0.0/8,fd00::/8`. */
const AllowCidrs = z
  .string()
  .default('')
  .transform((value, ctx) => {
    const ranges = value.split(',').map((range) => range.trim()).filter(Boolean);
    try {
      parseAllowedRanges(ranges);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
    return ranges;
  });

/** What notifications need of the environment, the same for both entry points. */
const notify = {
  FLOTILLA_NOTIFY_ALLOW_CIDRS: AllowCidrs,
  /** The dashboard's base URL, for links in notifications. */
  FLOTILLA_PUBLIC_URL: urlSetting.optional(),
};

/** The notification settings as the services take them. */
export const notifyConfig = (settings: { FLOTILLA_NOTIFY_ALLOW_CIDRS: string[]; FLOTILLA_PUBLIC_URL?: string | undefined }) => ({
  allowCidrs: settings.FLOTILLA_NOTIFY_ALLOW_CIDRS,
  publicUrl: settings.FLOTILLA_PUBLIC_URL ?? null,
});

/**
 * The dashboard's OIDC sign-in (authorization code + PKCE): a client of one of the FLOTILLA_OIDC
 * issuers, whose audience there is this client id (the id token's audience).
 */
const UiOidc = jsonSetting(
  z
    .object({
      issuer: z.string().min(1),
      clientId: z.string().min(1).max(256),
      clientSecret: z.string().min(1).max(1024).optional(),
      redirectUri: urlSetting.optional(),
      scopes: z.string().max(512).optional(),
    })
    .strict(),
);

/** FLOTILLA_UI_OIDC names an issuer of FLOTILLA_OIDC whose audience is its client id. */
const signInIsFederated = (settings: { FLOTILLA_OIDC: { issuer: string; audience: string }[]; FLOTILLA_UI_OIDC?: { issuer: string; clientId: string } }) =>
  !settings.FLOTILLA_UI_OIDC ||
  settings.FLOTILLA_OIDC.some((issuer) => issuer.issuer === settings.FLOTILLA_UI_OIDC!.issuer && issuer.audience === settings.FLOTILLA_UI_OIDC!.clientId);
const SIGN_IN_FEDERATED = { message: 'must name an issuer of FLOTILLA_OIDC whose audience is its clientId', path: ['FLOTILLA_UI_OIDC'] };

const identity = {
  FLOTILLA_ISSUER: z.string().min(1).default(DEFAULT_ISSUER),
  FLOTILLA_AUDIENCE: z.string().min(1).default(DEFAULT_AUDIENCE),
};

/**
 * The Lambda (functions/lambda.ts), as infra/ configures it. On AWS the signing keys are a
 * SecureString parameter read (and decrypted) at cold start, never an environment variable;
 * FLOTILLA_SIGNING_KEYS is for running the same entry elsewhere (the runtime emulator, say).
 */
export const LambdaSettings = z
  .object({
    FLOTILLA_TABLE: z.string().min(1),
    FLOTILLA_BUCKET: z.string().min(1),
    FLOTILLA_SIGNING_KEYS_PARAMETER: z.string().regex(/^[A-Za-z0-9_./-]{1,2048}$/, 'must be an SSM parameter name').optional(),
    FLOTILLA_SIGNING_KEYS: SigningKeys.optional(),
    FLOTILLA_OIDC: OidcIssuers.default([]),
    FLOTILLA_UI_OIDC: UiOidc.optional(),
    /** Other DynamoDB / S3 / SSM endpoints, for running the Lambda entry against local servers. */
    FLOTILLA_DYNAMODB_ENDPOINT: urlSetting.optional(),
    FLOTILLA_S3_ENDPOINT: urlSetting.optional(),
    FLOTILLA_SSM_ENDPOINT: urlSetting.optional(),
    ...identity,
    ...notify,
  })
  .refine((settings) => (settings.FLOTILLA_SIGNING_KEYS_PARAMETER === undefined) !== (settings.FLOTILLA_SIGNING_KEYS === undefined), {
    message: 'set exactly one of FLOTILLA_SIGNING_KEYS_PARAMETER (on AWS) and FLOTILLA_SIGNING_KEYS',
    path: ['FLOTILLA_SIGNING_KEYS_PARAMETER'],
  })
  .refine(signInIsFederated, SIGN_IN_FEDERATED);

/** `npm start` (functions/local.ts): the embedded default. */
export const LocalSettings = z.object({
  FLOTILLA_DATA_DIR: z.string().min(1).default('.data'),
  PORT: portSetting.default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  /** Seconds between runs of the in-process clock (rollout soaks and deadlines); 0 turns it off. */
  FLOTILLA_CLOCK_SECONDS: intSetting(0, 3600).default(15),
  FLOTILLA_OIDC: OidcIssuers.default([]),
  /** Seconds between runs of the in-process notification dispatcher (it also runs as soon as an event is written); 0 turns it off. */
  FLOTILLA_NOTIFY_SECONDS: intSetting(0, 3600).default(1),
  ...notify,
  FLOTILLA_UI_OIDC: UiOidc.optional(),
}).refine(signInIsFederated, SIGN_IN_FEDERATED);

/** The operator commands (functions/keys.ts). */
export const KeysSettings = z.object({
  FLOTILLA_SIGNING_KEYS: SigningKeys.optional(),
  FLOTILLA_DATA_DIR: z.string().min(1).default('.data'),
  ...identity,
});
