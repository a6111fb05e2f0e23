// The API docs at /docs: Swagger UI from the swagger-ui-dist package, every asset served from here
// (an air-gapped install renders it; no third-party script sees the page), under a strict CSP.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Hono } from 'hono';
import { secureHeaders } from 'hono/secure-headers';

export const DOCS_CSP = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'"],
  connectSrc: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
};

/** What the page starts Swagger UI with: a file, not an inline script, so the CSP needs no exception. */
const INIT = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true });
});
`;

/** The files of swagger-ui-dist that /docs serves, by content type. */
const FILES: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
};
export const SWAGGER_UI_FILES = Object.keys(FILES);

/**
 * Where swagger-ui-dist's files are: beside the Lambda bundle (scripts/build.ts copies them into
 * swagger-ui/), else the package in node_modules.
 */
function assetDirectories(): string[] {
  const here = typeof import.meta.dirname === 'string' ? [join(import.meta.dirname, 'swagger-ui')] : [];
  try {
    return [...here, dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'))];
  } catch {
    return here;
  }
}

const loaded = new Map<string, Buffer>();
function asset(name: string): Buffer {
  let content = loaded.get(name);
  if (!content) {
    for (const dir of assetDirectories()) {
      try {
        content = readFileSync(join(dir, name));
        break;
      } catch {
        // the next place
      }
    }
    if (!content) throw new Error(`swagger-ui-dist's ${name} is missing from this build`);
    loaded.set(name, content);
  }
  return content;
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Flotilla API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<main id="swagger-ui"><noscript>The API docs need JavaScript; the OpenAPI document is <a href="/openapi.json">/openapi.json</a>.</noscript></main>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/init.js"></script>
</body>
</html>
`;

export function registerDocs(app: Hono<any>) {
  const headers = secureHeaders({ contentSecurityPolicy: DOCS_CSP, referrerPolicy: 'same-origin' });
  app.use('/docs', headers);
  app.use('/docs/*', headers);
  app.get('/docs', (c) => c.html(PAGE));
  app.get('/docs/assets/:file', (c) => {
    const file = c.req.param('file');
    c.header('Cache-Control', 'public, max-age=86400');
    if (file === 'init.js') return c.body(INIT, 200, { 'content-type': 'text/javascript; charset=utf-8' });
    const type = Object.hasOwn(FILES, file) ? FILES[file] : undefined;
    if (!type) return c.json({ error: { code: 'not_found', message: `no docs asset ${file}`, requestId: c.get('requestId') ?? 'unknown' } }, 404);
    return c.body(new Uint8Array(asset(file)), 200, { 'content-type': type });
  });
}
