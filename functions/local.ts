// `npm start`: the control plane on localhost with the embedded storage under ./.data (or FLOTILLA_DATA_DIR).
import { startLocalControlPlane } from './local-server.ts';

// The AWS SDK warns on Node 20 that its future releases will need Node 22; the lockfile pins a
// release that supports 20, so for the embedded default the notice is noise before the banner.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const plane = await startLocalControlPlane({
  dataDir: process.env.FLOTILLA_DATA_DIR ?? '.data',
  port: Number(process.env.PORT ?? 8080),
  host: process.env.HOST ?? '127.0.0.1',
});

console.log(`Flotilla control plane listening on ${plane.url}
  data:        ${plane.dataDir} (kept across restarts)
  API docs:    ${plane.url}/docs   (OpenAPI: ${plane.url}/openapi.json)
  admin token: ${plane.adminTokenPath}
    export FLOTILLA_URL=${plane.url}
    export FLOTILLA_TOKEN=$(cat ${plane.adminTokenPath})`);

const shutdown = async () => {
  await plane.stop();
  process.exit(0);
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
