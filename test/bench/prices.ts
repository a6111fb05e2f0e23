// Every price the cost model (test/bench/cost.ts) uses, in one place: AWS us-east-1 list prices,
// on-demand, without free tiers or savings plans, as read in 2026-12 from the pages named.
export const PRICES_AS_OF = '2026-12';
export const PRICES_REGION = 'us-east-1';

export const PRICES = {
  lambda: {
    source: 'AWS Lambda pricing (aws.amazon.com/lambda/pricing), Arm',
    perMillionRequests: 0.2,
    /** Billed per 1 ms of duration at the configured memory. */
    perGbSecond: 0.0000133334,
    /** Function URLs add no charge beyond Lambda's requests and duration. */
    functionUrl: 0,
  },
  dynamodb: {
    source: 'Amazon DynamoDB pricing for on-demand capacity (aws.amazon.com/dynamodb/pricing/on-demand), Standard table class',
    perMillionReadRequestUnits: 0.125,
    perMillionWriteRequestUnits: 0.625,
    storagePerGbMonth: 0.25,
  },
  s3: {
    source: 'Amazon S3 pricing (aws.amazon.com/s3/pricing), S3 Standard',
    /** PUT, COPY, POST, LIST requests. */
    perThousandPut: 0.005,
    /** GET, SELECT and all other requests (HEAD included). */
    perThousandGet: 0.0004,
    storagePerGbMonth: 0.023,
  },
  cloudwatchLogs: {
    source: 'Amazon CloudWatch pricing (aws.amazon.com/cloudwatch/pricing), Logs, Standard log class',
    ingestionPerGb: 0.5,
  },
  ec2: {
    source: 'Amazon EC2 On-Demand pricing (aws.amazon.com/ec2/pricing/on-demand), Linux',
    perHour: { 'm7g.xlarge': 0.1632, 'm7g.2xlarge': 0.3264, 'm7g.4xlarge': 0.6528 } as Record<string, number>,
  },
  eks: {
    source: 'Amazon EKS pricing (aws.amazon.com/eks/pricing), cluster in standard support',
    clusterPerHour: 0.1,
  },
} as const;

/** What the cost model calls a month. */
export const HOURS_PER_MONTH = 730;
export const GB = 2 ** 30;
