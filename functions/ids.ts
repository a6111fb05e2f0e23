import { randomBytes } from 'node:crypto';

/** Time-ordered, URL-safe ids: 12 hex digits of milliseconds, then 10 random bytes. */
export function newId(now = Date.now()): string {
  return now.toString(16).padStart(12, '0') + randomBytes(10).toString('hex');
}
