// Cosign signatures, end to end with the real cosign CLI (v3, built by test/env/setup) against the
// real registry and a real kube-apiserver: artifacts signed by cosign verify in the agent and
// deploy; an unsigned artifact, a signature by another key and a signature copied from another
// artifact are refused with their reasons, nothing is applied and the previous version stays.
// `cosign verify` checks what the tests sign, as a cross-check of the agent's verdicts.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DesiredApp } from '../lib/api/schemas.ts';
import { RegistryClient } from '../lib/oci/client.ts';
import { SIGSTORE_BUNDLE_ARTIFACT_TYPE, cosignSignatureTag, findCosignSignatures } from '../lib/oci/cosign.ts';
import { digestOf } from '../lib/oci/digest.ts';
import { OCI_INDEX_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE, type Descriptor } from '../lib/oci/manifest.ts';
import { parseRepository, type Repository } from '../lib/oci/reference.ts';
import { envBinDir } from '../test/env/harness.ts';
import { connectTestCluster, createNamespace, deleteNamespace, testRegistryHost, uniqueName, type AgentTestCluster } from '../test/support/cluster.ts';
import { publishFiles } from '../test/support/registry.ts';
import { InventoryStore } from './inventory.ts';
import { jsonLogger } from './log.ts';
import { Metrics } from './metrics.ts';
import { Reconciler } from './reconciler.ts';
import { registryPuller } from './runtime.ts';
import { registryVerifier } from './verify.ts';

const execFileAsync = promisify(execFile);
const COSIGN = join(envBinDir(), 'cosign');
const PASSWORD = 'test-password';

let cluster: AgentTestCluster;
let host: string;
let dir: string;
let keys: { good: { key: string; pub: string; pem: string }; other: { key: string; pub: string; pem: string } };
const registry = new RegistryClient({ retry: { maxRetries: 0 } });
const agentNamespace = uniqueName('agent-sig-system');
const appNamespace = uniqueName('agent-sig-apps');
const repo = uniqueName('agent-sig');

async function cosign(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return execFileAsync(COSIGN, args, {
    cwd: dir,
    env: { ...process.env, COSIGN_PASSWORD: PASSWORD, COSIGN_YES: 'true', HOME: dir, SIGSTORE_NO_CACHE: 'true', TUF_ROOT: join(dir, 'tuf') },
    timeout: 120_000,
  });
}

async function generateKeyPair(name: string) {
  const prefix = join(dir, name);
  await cosign(['generate-key-pair', '--output-key-prefix', prefix]);
  return { key: `${prefix}.key`, pub: `${prefix}.pub`, pem: await readFile(`${prefix}.pub`, 'utf8') };
}

/**
 * cosign v3's default: a Sigstore bundle stored as an OCI referrer. v3 refuses `--tlog-upload=false`
 * with a signing config; offline, the signing config names no transparency log (nor Fulcio, TSA).
 */
const signBundle = (key: string, ref: string) => cosign(['sign', '--key', key, '--signing-config', join(dir, 'signing-config.json'), ref]);
/** The classic format: a simple-signing payload under the `sha256-<hex>.sig` tag. */
const signClassic = (key: string, ref: string) =>
  cosign(['sign', '--key', key, '--tlog-upload=false', '--new-bundle-format=false', '--use-signing-config=false', ref]);
const cosignVerify = (pub: string, ref: string) => cosign(['verify', '--key', pub, '--insecure-ignore-tlog', ref]);

function reconciler() {
  return new Reconciler({
    client: cluster.client,
    inventory: new InventoryStore(cluster.client, agentNamespace),
    pull: registryPuller(registry),
    verify: registryVerifier(registry),
    logger: jsonLogger({ level: 'error', write: () => {} }),
    metrics: new Metrics(),
    healthBudgetMs: 1_000,
    fetchBackoff: { baseMs: 1, maxMs: 1 },
  });
}

const configMap = (name: string, value: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata: {value: "${value}"}\n`;

/** Publishes a one-ConfigMap artifact; returns its digest and `host/repo@digest`. */
async function publish(app: string, version: string, value: string) {
  const digest = await publishFiles(host, `${repo}/${app}`, version, { 'cm.yaml': configMap(app, value) });
  return { digest, ref: `${host}/${repo}/${app}@${digest}` };
}

function desired(app: string, version: string, digest: string, publicKeys: { from: 'app' | 'environment'; publicKey: string }[]): DesiredApp {
  return {
    name: app,
    version,
    digest,
    repository: `${host}/${repo}/${app}`,
    path: '.',
    namespace: appNamespace,
    prune: true,
    wait: false,
    timeoutSeconds: 60,
    recreate: false,
    suspended: false,
    ...(publicKeys.length ? { verify: { provider: 'cosign' as const, keys: publicKeys } } : {}),
  };
}

/** The artifact's referrers: from the referrers API, else from the referrers tag schema's index. */
async function bundleReferrers(repository: Repository, digest: string): Promise<Descriptor[]> {
  const listed = await registry.listReferrers(repository, digest);
  if (listed) return listed;
  const tag = await registry.resolveTag(repository, digest.replace(':', '-'));
  return JSON.parse((await registry.getManifest(repository, tag.digest)).bytes.toString('utf8')).manifests;
}

async function liveValue(name: string) {
  const object = await cluster.client.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: appNamespace, name });
  return object ? (object['data'] as Record<string, string>)['value'] : null;
}

const cosignAvailable = existsSync(COSIGN);

beforeAll(async () => {
  if (!cosignAvailable) throw new Error(`cosign is missing at ${COSIGN}: run test/env/setup (FLOTILLA_ENV_ONLY=cosign)`);
  dir = await mkdtemp(join(tmpdir(), 'flotilla-cosign-'));
  keys = { good: await generateKeyPair('good'), other: await generateKeyPair('other') };
  await writeFile(join(dir, 'signing-config.json'), JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.signingconfig.v0.2+json' }));
  cluster = await connectTestCluster('dev');
  host = testRegistryHost();
  await createNamespace(cluster, agentNamespace);
  await createNamespace(cluster, appNamespace);
}, 120_000);

afterAll(async () => {
  if (cluster) {
    await deleteNamespace(cluster, appNamespace);
    await deleteNamespace(cluster, agentNamespace);
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('cosign signatures', () => {
  it('cosign v3 stores its default signature as a Sigstore bundle referrer, which the agent verifies and deploys', async () => {
    const v1 = await publish('bundle', '1.0.0', 'one');
    await signBundle(keys.good.key, v1.ref);
    // What cosign wrote: a referrer of the artifact holding a bundle, no `.sig` tag.
    // What cosign wrote: a Sigstore bundle as an OCI referrer of the artifact. This registry
    // (distribution v3.1.2) has no referrers API, so cosign used the referrers tag schema: an index
    // under `sha256-<hex>` listing the bundle manifest. No classic `.sig` tag.
    const repository = parseRepository(`${host}/${repo}/bundle`);
    expect(await registry.listReferrers(repository, v1.digest)).toBeNull();
    expect((await registry.listTags(repository)).sort()).toEqual(['1.0.0', v1.digest.replace(':', '-')]);
    const referrers = await bundleReferrers(repository, v1.digest);
    expect(referrers.map((referrer) => referrer.artifactType)).toEqual([SIGSTORE_BUNDLE_ARTIFACT_TYPE]);
    const bundleManifest = JSON.parse((await registry.getManifest(repository, referrers[0]!.digest)).bytes.toString('utf8'));
    expect(bundleManifest).toMatchObject({ artifactType: SIGSTORE_BUNDLE_ARTIFACT_TYPE, subject: { digest: v1.digest }, layers: [{ mediaType: SIGSTORE_BUNDLE_ARTIFACT_TYPE }] });
    const bundle = JSON.parse((await registry.getBlob(repository, bundleManifest.layers[0], { maxBytes: 1 << 20 })).toString('utf8'));
    expect(bundle).toMatchObject({ mediaType: SIGSTORE_BUNDLE_ARTIFACT_TYPE, dsseEnvelope: { payloadType: 'application/vnd.in-toto+json' } });
    expect(JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString())).toMatchObject({
      predicateType: 'https://sigstore.dev/cosign/sign/v1',
      subject: [{ digest: { sha256: v1.digest.slice('sha256:'.length) } }],
    });
    const found = await findCosignSignatures(registry, parseRepository(`${host}/${repo}/bundle`), v1.digest);
    expect(found.map((signature) => [signature.format, signature.subjectDigests])).toEqual([['bundle', [v1.digest]]]);
    await cosignVerify(keys.good.pub, v1.ref);

    const report = await reconciler().reconcileApp(desired('bundle', '1.0.0', v1.digest, [{ from: 'app', publicKey: keys.good.pem }]), false);
    expect([report.phase, report.reason, report.message]).toEqual(['Ready', 'Applied', expect.any(String)]);
    expect(await liveValue('bundle')).toBe('one');
  });

  it('verifies the classic sha256-<hex>.sig format', async () => {
    const v1 = await publish('classic', '1.0.0', 'one');
    await signClassic(keys.good.key, v1.ref);
    const repository = parseRepository(`${host}/${repo}/classic`);
    expect((await registry.listTags(repository)).sort()).toEqual(['1.0.0', cosignSignatureTag(v1.digest)].sort());
    const found = await findCosignSignatures(registry, repository, v1.digest);
    expect(found.map((signature) => [signature.format, signature.subjectDigests])).toEqual([['simple-signing', [v1.digest]]]);
    await cosignVerify(keys.good.pub, v1.ref);

    const report = await reconciler().reconcileApp(desired('classic', '1.0.0', v1.digest, [{ from: 'app', publicKey: keys.good.pem }]), false);
    expect([report.phase, report.reason]).toEqual(['Ready', 'Applied']);
    expect(await liveValue('classic')).toBe('one');
  });

  it('refuses an unsigned artifact, one signed by another key and one carrying another artifact\'s signature; the previous version stays', async () => {
    const agent = reconciler();
    const app = 'refused';
    const required = [{ from: 'app' as const, publicKey: keys.good.pem }];
    const v1 = await publish(app, '1.0.0', 'one');
    await signBundle(keys.good.key, v1.ref);
    expect((await agent.reconcileApp(desired(app, '1.0.0', v1.digest, required), false)).phase).toBe('Ready');

    // Unsigned.
    const v2 = await publish(app, '1.0.1', 'unsigned');
    const unsigned = await agent.reconcileApp(desired(app, '1.0.1', v2.digest, required), false);
    expect([unsigned.phase, unsigned.reason]).toEqual(['Failed', 'VerificationFailed']);
    expect(unsigned.message).toContain(`no cosign signature for ${v2.digest}`);
    expect(unsigned.counts).toEqual({});
    await expect(cosignVerify(keys.good.pub, v2.ref)).rejects.toThrow();

    // Signed, by another key (both formats).
    const v3 = await publish(app, '1.0.2', 'other-key');
    await signBundle(keys.other.key, v3.ref);
    await signClassic(keys.other.key, v3.ref);
    const mismatch = await agent.reconcileApp(desired(app, '1.0.2', v3.digest, required), false);
    expect([mismatch.phase, mismatch.reason]).toEqual(['Failed', 'VerificationFailed']);
    expect(mismatch.message).toContain("signature does not match the app's key");
    await expect(cosignVerify(keys.good.pub, v3.ref)).rejects.toThrow();
    await cosignVerify(keys.other.pub, v3.ref);

    // v1's signatures copied onto v4: the bundle referrer re-pointed at v4, and the classic tag.
    const v4 = await publish(app, '1.0.3', 'copied');
    await signClassic(keys.good.key, v1.ref);
    const repository = parseRepository(`${host}/${repo}/${app}`);
    const [referrer] = await bundleReferrers(repository, v1.digest);
    const bundleManifest = JSON.parse((await registry.getManifest(repository, referrer!.digest)).bytes.toString('utf8'));
    const v4Manifest = await registry.getManifest(repository, v4.digest);
    bundleManifest.subject = { mediaType: OCI_MANIFEST_MEDIA_TYPE, digest: v4.digest, size: v4Manifest.bytes.length };
    const copied = Buffer.from(JSON.stringify(bundleManifest));
    const copiedDigest = await registry.pushManifest(repository, digestOf(copied), copied, OCI_MANIFEST_MEDIA_TYPE);
    const index = { schemaVersion: 2, mediaType: OCI_INDEX_MEDIA_TYPE, manifests: [{ ...referrer, digest: copiedDigest, size: copied.length }] };
    await registry.pushManifest(repository, v4.digest.replace(':', '-'), Buffer.from(JSON.stringify(index)), OCI_INDEX_MEDIA_TYPE);
    const classic = await registry.getManifest(repository, (await registry.resolveTag(repository, cosignSignatureTag(v1.digest))).digest);
    await registry.pushManifest(repository, cosignSignatureTag(v4.digest), classic.bytes, OCI_MANIFEST_MEDIA_TYPE);
    expect((await findCosignSignatures(registry, repository, v4.digest)).map((signature) => signature.format).sort()).toEqual(['bundle', 'simple-signing']);
    const other = await agent.reconcileApp(desired(app, '1.0.3', v4.digest, required), false);
    expect([other.phase, other.reason]).toEqual(['Failed', 'VerificationFailed']);
    expect(other.message).toContain(`signature is for another digest: signed ${v1.digest}, the artifact is ${v4.digest}`);
    await expect(cosignVerify(keys.good.pub, v4.ref)).rejects.toThrow();

    // Nothing of v2…v4 was applied: v1 is live, and the inventory still records v1.
    expect(await liveValue(app)).toBe('one');
    const inventory = await new InventoryStore(cluster.client, agentNamespace).get(app);
    expect([inventory?.version, inventory?.digest]).toEqual(['1.0.0', v1.digest]);
  });

  it('requires the environment\'s key on top of the app\'s', async () => {
    const v1 = await publish('both', '1.0.0', 'one');
    await signBundle(keys.good.key, v1.ref);
    const both = [
      { from: 'app' as const, publicKey: keys.good.pem },
      { from: 'environment' as const, publicKey: keys.other.pem },
    ];
    const agent = reconciler();
    const refused = await agent.reconcileApp(desired('both', '1.0.0', v1.digest, both), false);
    expect([refused.reason, refused.message]).toEqual(['VerificationFailed', expect.stringContaining("signature does not match the environment's key")]);
    expect(await liveValue('both')).toBeNull();
    await signBundle(keys.other.key, v1.ref);
    const accepted = await agent.reconcileApp(desired('both', '1.0.0', v1.digest, both), false);
    expect([accepted.phase, accepted.reason]).toEqual(['Ready', 'Applied']);
    expect(await liveValue('both')).toBe('one');
  });
});

describe('registryVerifier', () => {
  it('refuses, without retrying, a required key that is not a P-256 public key', async () => {
    const { FetchError } = await import('./artifact.ts');
    const error = await registryVerifier(registry)('registry.test/app', `sha256:${'a'.repeat(64)}`, [{ name: "the app's key", publicKey: 'not a key' }]).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(FetchError);
    expect(error).toMatchObject({ reason: 'VerificationFailed', retryable: false });
    expect((error as Error).message).toMatch(/^a required key must be a PEM public key/);
  });
});
