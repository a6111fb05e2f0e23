// The embedded default's storage (dynalite + s3rver, as `npm start` runs them, persisted under a
// temporary data directory) in a process of its own, for `npm run bench:fleet`: the control-plane
// child then connects to it like to moto, and the CPU it uses is the control plane's alone.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedStorage } from '../../../functions/embedded-storage.ts';

const dir = await mkdtemp(join(tmpdir(), 'flotilla-fleet-storage-'));
const storage = await startEmbeddedStorage(dir, { persist: true });
process.send?.({ type: 'ready', endpoints: storage.endpoints });
process.on('disconnect', () => {
  void storage
    .stop()
    .finally(() => rm(dir, { recursive: true, force: true }))
    .finally(() => process.exit(0));
});
