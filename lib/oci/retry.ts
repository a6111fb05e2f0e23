// Bounded retries with exponential backoff and jitter for throttling (429),
// server errors (5xx) and network failures: registries behind load balancers
// drop connections and answer 502/503 during deploys, and fleets of agents
// must not retry in lockstep.

export interface RetryPolicy {
  /** Retries after the first attempt; 0 disables retrying. */
  maxRetries: number;
  /** Delay before the first retry, doubled on every further retry. */
  baseDelayMs: number;
  /** Upper bound for one delay, also for a server's Retry-After. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxRetries: 4, baseDelayMs: 250, maxDelayMs: 8_000 };

export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 500 || status === 502 || status === 503 || status === 504;
}

/**
 * Delay before retry number `retry` (0-based): half of the exponential step
 * plus a random share of the other half ("equal jitter"), so delays still grow
 * while concurrent clients spread out. A Retry-After in seconds is honoured up
 * to maxDelayMs.
 */
export function retryDelayMs(policy: RetryPolicy, retry: number, retryAfterHeader?: string | null): number {
  const retryAfterSeconds = retryAfterHeader ? Number(retryAfterHeader) : Number.NaN;
  if (Number.isFinite(retryAfterSeconds) && retryAfterSeconds >= 0) {
    return Math.min(retryAfterSeconds * 1000, policy.maxDelayMs);
  }
  const step = Math.min(policy.baseDelayMs * 2 ** retry, policy.maxDelayMs);
  return step / 2 + Math.random() * (step / 2);
}
