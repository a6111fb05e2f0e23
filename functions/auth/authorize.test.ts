import { describe, expect, it } from 'vitest';
import { isAllowed } from './authorize.ts';

describe('isAllowed', () => {
  it('lets every role read and only the right roles write', () => {
    expect(isAllowed([{ role: 'viewer' }], 'read')).toBe(true);
    expect(isAllowed([{ role: 'viewer' }], 'promote', { app: 'a', environment: 'prod' })).toBe(false);
    expect(isAllowed([{ role: 'publisher' }], 'promote', { app: 'a', environment: 'prod' })).toBe(false);
    expect(isAllowed([{ role: 'promoter' }], 'publish', { app: 'a' })).toBe(false);
    expect(isAllowed([{ role: 'admin' }], 'promote', { app: 'a', environment: 'prod' })).toBe(true);
  });

  it('honours app and environment scopes', () => {
    const grants = [{ role: 'promoter' as const, environments: ['dev', 'staging'], apps: ['checkout'] }];
    expect(isAllowed(grants, 'promote', { app: 'checkout', environment: 'dev' })).toBe(true);
    expect(isAllowed(grants, 'promote', { app: 'checkout', environment: 'prod' })).toBe(false);
    expect(isAllowed(grants, 'promote', { app: 'billing', environment: 'dev' })).toBe(false);
    // a scoped grant never covers an action whose target it cannot check
    expect(isAllowed(grants, 'promote', {})).toBe(false);
    // but it reads everything
    expect(isAllowed(grants, 'read', { app: 'billing', environment: 'prod' })).toBe(true);
  });
});
