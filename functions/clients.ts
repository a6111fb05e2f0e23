// AWS clients for the real services and for the embedded / test servers (dynalite, s3rver, moto).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { dynamoUsageMiddleware, s3UsageMiddleware } from './usage.ts';

export interface Endpoints {
  region?: string;
  dynamoEndpoint?: string;
  s3Endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  s3Credentials?: { accessKeyId: string; secretAccessKey: string };
}

export function createClients(endpoints: Endpoints = {}) {
  const region = endpoints.region ?? process.env.AWS_REGION ?? 'us-east-1';
  const dynamo = new DynamoDBClient({
    region,
    endpoint: endpoints.dynamoEndpoint,
    credentials: endpoints.credentials,
    maxAttempts: 3,
  });
  const s3 = new S3Client({
    region,
    endpoint: endpoints.s3Endpoint,
    credentials: endpoints.s3Credentials ?? endpoints.credentials,
    forcePathStyle: endpoints.s3Endpoint !== undefined,
    // Local S3 servers store streamed bodies with aws-chunked framing unless checksums are opt-in.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  // Request accounting (functions/usage.ts): a no-op unless a benchmark listens.
  dynamo.middlewareStack.add(dynamoUsageMiddleware as never, { step: 'initialize', name: 'flotillaUsage' });
  s3.middlewareStack.add(s3UsageMiddleware as never, { step: 'initialize', name: 'flotillaUsage' });
  return { dynamo, s3 };
}
