// `npm start`: the control plane on localhost with the embedded storage under ./.data (or FLOTILLA_DATA_DIR).
import { parseSettings } from '../lib/settings.ts';
import type { OidcIssuer } from './auth/tokens.ts';
import { startLocalControlPlane, type LocalControlPlane } from './local-server.ts';
import { LocalSettings, notifyConfig } from './settings.ts';

// The AWS SDK warns on Node 20 that its future releases will need Node 22; the lockfile pins a
// release that supports 20, so for the embedded default the notice is noise before the banner.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** One sentence for the ways starting fails that a user can fix. */
function startFailure(err: unknown, settings: { HOST: string; PORT: number } | null): string {
  const code = (err as { code?: string } | null)?.code;
  if (code === 'EADDRINUSE' && settings) return `flotilla: port ${settings.PORT} on ${settings.HOST} is in use; set PORT to another one`;
  if (code === 'EADDRNOTAVAIL' && settings) return `flotilla: cannot listen on ${settings.HOST}; set HOST to an address of this machine`;
  if (code === 'EACCES' || code === 'EPERM') return `flotilla: permission denied: ${(err as Error).message}`;
  return err instanceof Error && err.name === 'SettingsError' ? err.message : `flotilla: could not start: ${(err as Error)?.message ?? String(err)}`;
}

let settings: ReturnType<typeof LocalSettings.parse> | null = null;
let plane: LocalControlPlane;
try {
  settings = parseSettings('flotilla', LocalSettings);
  plane = await startLocalControlPlane({
    dataDir: settings.FLOTILLA_DATA_DIR,
    port: settings.PORT,
    host: settings.HOST,
    oidc: settings.FLOTILLA_OIDC as OidcIssuer[],
    signIn: settings.FLOTILLA_UI_OIDC,
    clockSeconds: settings.FLOTILLA_CLOCK_SECONDS,
    notifyIntervalMs: settings.FLOTILLA_NOTIFY_SECONDS * 1000,
    config: { notify: notifyConfig(settings) },
  });
} catch (err) {
  console.error(startFailure(err, settings));
  process.exit(2);
}

console.log(`Flotilla control plane listening on ${plane.url}
  data:        ${plane.dataDir} (kept across restarts)
  dashboard:   ${plane.url}/ui   (sign in with the admin token below)
  API docs:    ${plane.url}/docs   (OpenAPI: ${plane.url}/openapi.json)
  notify:      in process; destinations on public addresses${settings!.FLOTILLA_NOTIFY_ALLOW_CIDRS.length ? ` and ${settings!.FLOTILLA_NOTIFY_ALLOW_CIDRS.join(', ')}` : ' only (FLOTILLA_NOTIFY_ALLOW_CIDRS allows private ranges)'}
  admin token: ${plane.adminTokenPath}
    export FLOTILLA_URL=${plane.url}
    export FLOTILLA_TOKEN=$(cat ${plane.adminTokenPath})`);

async function shutdown() {
  await plane.stop();
  process.exit(0);
}
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
