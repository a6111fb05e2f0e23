// Role-based authorization: which grants allow which permission on which app and environment.
import type { Grant, Role } from '../../lib/api/schemas.ts';

/** read: any role, unscoped; publish: publishers; promote (promote, rollback, block, suspend): promoters; admin: admins. */
export type Permission = 'read' | 'publish' | 'promote' | 'admin';

const ROLES_FOR: Record<Permission, Role[]> = {
  read: ['admin', 'publisher', 'promoter', 'viewer'],
  publish: ['admin', 'publisher'],
  promote: ['admin', 'promoter'],
  admin: ['admin'],
};

export interface Scope {
  app?: string;
  environment?: string;
}

/** A grant applies when its role carries the permission and its app/environment lists (if any) include the target. */
export function isAllowed(grants: Grant[], permission: Permission, scope: Scope = {}): boolean {
  // Reading is organisation-wide: scopes limit what a token may change, not what it may see.
  if (permission === 'read') return grants.length > 0;
  return grants.some(
    (grant) =>
      ROLES_FOR[permission].includes(grant.role) &&
      // admin is never scoped: it can create the apps and environments a scope would name
      (grant.role === 'admin' ||
        ((!grant.apps || (scope.app !== undefined && grant.apps.includes(scope.app))) &&
          (!grant.environments || (scope.environment !== undefined && grant.environments.includes(scope.environment))))),
  );
}
