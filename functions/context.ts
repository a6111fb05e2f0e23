// The typed context every handler reads its services and caller from.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import type { BlobStore } from './storage/blobs.ts';
import type { ClusterRecord, Store } from './storage/store.ts';
import type { Principal, TokenService } from './auth/tokens.ts';

export interface Config {
  /** Seconds between agent check-ins the control plane asks for. */
  checkInIntervalSeconds: number;
  /** A check-in or unchanged report writes `lastSeen` at most this often. */
  heartbeatSeconds: number;
  /** A cluster not seen for this long is stale. */
  staleAfterSeconds: number;
  registrationTokenTtlSeconds: number;
  /** Largest accepted request body, except agent reports. */
  maxBodyBytes: number;
  maxReportBytes: number;
}

export const DEFAULT_CONFIG: Config = {
  checkInIntervalSeconds: 30,
  heartbeatSeconds: 300,
  staleAfterSeconds: 900,
  registrationTokenTtlSeconds: 3600,
  maxBodyBytes: 256 * 1024,
  maxReportBytes: 4 * 1024 * 1024,
};

export interface Services {
  store: Store;
  blobs: BlobStore;
  tokens: TokenService;
  config: Config;
  now: () => Date;
  /** Kept for tests that count requests; the store and blob store wrap them. */
  dynamo: DynamoDBClient;
  s3: S3Client;
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
    /** When the agent signed this request (seconds); orders its reports. */
    agentTokenIssuedAt: number;
  };
};
