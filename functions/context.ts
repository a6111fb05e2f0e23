// The typed context every handler reads its services and caller from.
import { LIMITS } from '../lib/limits.ts';
import type { OidcSignIn } from './auth/oidc-client.ts';
import type { Principal, TokenService } from './auth/tokens.ts';
import type { ClusterRecord } from './model.ts';
import type { Storage } from './storage/index.ts';

export interface Config {
  /** Seconds between agent check-ins the control plane asks for. */
  checkInIntervalSeconds: number;
  /** How often the agent sends its heartbeat (a check-in flagged `heartbeat=1`, one write unit); an unchanged report writes one at most this often too. */
  heartbeatSeconds: number;
  /**
   * How long a process authenticates agents with the cluster item it read (key, revocation,
   * suspension, labels): the delay before another process refuses a revoked cluster's check-ins.
   * At most the agent token lifetime (60 s); 0 reads it on every request.
   */
  agentCacheSeconds: number;
  /** How long a process answers check-ins from the desired entries it read (another process's writes show within this). */
  desiredCacheSeconds: number;
  /** Seconds between the clock's scans that count each fleet cell's clusters and stale ones. */
  fleetScanSeconds: number;
  /** A cluster not seen for this long is stale. */
  staleAfterSeconds: number;
  registrationTokenTtlSeconds: number;
  /** Largest accepted request body, except agent reports. */
  maxBodyBytes: number;
  maxReportBytes: number;
  /** Notifications (functions/notify): see NotifyConfig. */
  notify: NotifyConfig;
}

export interface NotifyConfig {
  /** Address ranges (CIDR) destinations may be in although they are loopback, private or link-local. */
  allowCidrs: string[];
  /** The dashboard's base URL for links in messages (null: no links). */
  publicUrl: string | null;
  /** One attempt's deadline, connection to last byte. */
  timeoutMs: number;
  /** Retries: the first delay, doubling up to the largest, with jitter; dead-lettered after maxAgeSeconds or maxAttempts. */
  retryBaseMs: number;
  retryMaxMs: number;
  maxAgeSeconds: number;
  maxAttempts: number;
  /** Drift of one object is sent once per this many seconds per subscription. */
  debounceSeconds: number;
  maxSubscriptions: number;
  /** Deliveries one dispatcher attempts at once. */
  concurrency: number;
  /** A claimed attempt's lease outlives its deadline by this much; then another dispatcher may retry it. */
  leaseMarginMs: number;
}

export const DEFAULT_CONFIG: Config = {
  checkInIntervalSeconds: 30,
  heartbeatSeconds: 600,
  desiredCacheSeconds: 5,
  agentCacheSeconds: 60,
  fleetScanSeconds: 300,
  staleAfterSeconds: 1800,
  registrationTokenTtlSeconds: 3600,
  maxBodyBytes: LIMITS.maxBodyBytes,
  maxReportBytes: LIMITS.maxReportBytes,
  notify: {
    allowCidrs: [],
    publicUrl: null,
    timeoutMs: 10_000,
    retryBaseMs: 30_000,
    retryMaxMs: 3_600_000,
    maxAgeSeconds: 86_400,
    maxAttempts: 50,
    debounceSeconds: 600,
    maxSubscriptions: 100,
    concurrency: 8,
    leaseMarginMs: 5_000,
  },
};

/** What the domain works with: built once per process, shared by every request. */
export interface Services {
  storage: Storage;
  tokens: TokenService;
  config: Config;
  now: () => Date;
  /** The dashboard's OIDC sign-in, when an issuer is configured for it (FLOTILLA_UI_OIDC). */
  signIn?: OidcSignIn;
}

export type AppEnv = {
  Variables: {
    services: Services;
    requestId: string;
    /** Set by authentication on user routes. */
    principal: Principal;
    /** Set by authentication on agent routes. */
    cluster: ClusterRecord;
    /** The raw request body of agent routes, read once for the body hash. */
    rawBody: Uint8Array;
    /** When the agent signed this request (seconds); orders the reports of agents without `seq`. */
    agentTokenIssuedAt: number;
    /** The agent's own counter for this request (the signed `seq` claim); orders its reports. */
    agentRequestSeq: number | undefined;
  };
};
