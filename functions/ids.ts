import { randomBytes } from 'node:crypto';

let lastMs = -1;
let counter = 0;

/**
 * Time-ordered, URL-safe ids: 12 hex digits of milliseconds, a 4-digit counter that keeps ids
 * from one process in order within the same millisecond, then 8 random bytes.
 */
export function newId(now = Date.now()): string {
  counter = now === lastMs ? counter + 1 : 0;
  lastMs = now;
  return now.toString(16).padStart(12, '0') + (counter & 0xffff).toString(16).padStart(4, '0') + randomBytes(8).toString('hex');
}
