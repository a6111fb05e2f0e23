// Bootstrap and key rotation. The key pair is generated in the cluster and written to the Secret
// before the control plane sees its public half, so a crash between the two never leaves the
// control plane trusting a key that is lost; a restarted agent with a stored identity never
// registers again (its one-time token is spent anyway).
import { generateAgentKey, type AgentKeyPair } from '../lib/agent-auth.ts';
import type { ControlPlaneClient, Identity } from './control-plane.ts';
import type { AgentStateStore } from './state.ts';

export interface Credentials {
  identity: Identity;
  key: AgentKeyPair;
}

export class BootstrapError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BootstrapError';
  }
}

export async function bootstrap(
  store: AgentStateStore,
  controlPlane: ControlPlaneClient,
  registrationToken: string | undefined,
): Promise<{ credentials: Credentials; registered: boolean }> {
  const stored = await store.loadIdentity();
  if (stored?.identity) return { credentials: { identity: stored.identity, key: stored.key }, registered: false };
  if (!registrationToken) {
    throw new BootstrapError(
      `no agent identity in Secret ${store.namespace}/flotilla-agent-identity and no registration token: ` +
        'issue one with POST /v1/clusters/{cluster}/registration-tokens and set FLOTILLA_REGISTRATION_TOKEN',
    );
  }
  const key = stored?.key ?? (await generateAgentKey());
  if (!stored) await store.saveIdentity({ key, identity: null, nextKey: null });
  const identity = await controlPlane.register(registrationToken, key.publicJwk);
  await store.saveIdentity({ key, identity, nextKey: null });
  return { credentials: { identity, key }, registered: true };
}

/**
 * Replaces the key: the next key is stored first, the control plane switches on a request signed
 * with the current one, then the Secret keeps only the new key.
 */
export async function rotateKey(store: AgentStateStore, controlPlane: ControlPlaneClient, current: Credentials): Promise<Credentials> {
  const nextKey = (await store.loadIdentity())?.nextKey ?? (await generateAgentKey());
  await store.saveIdentity({ key: current.key, identity: current.identity, nextKey });
  const identity = await controlPlane.rotateKey(current.identity, current.key, nextKey.publicJwk);
  await store.saveIdentity({ key: nextKey, identity, nextKey: null });
  return { identity, key: nextKey };
}

/** A rotation interrupted after the control plane switched: the stored next key is the one it trusts. */
export async function adoptPendingKey(store: AgentStateStore, current: Credentials): Promise<Credentials | null> {
  const stored = await store.loadIdentity();
  if (!stored?.nextKey) return null;
  const adopted = { identity: current.identity, key: stored.nextKey };
  await store.saveIdentity({ key: stored.nextKey, identity: current.identity, nextKey: null });
  return adopted;
}
