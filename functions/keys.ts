// Operator commands for the signing keys, run with tsx:
//   keygen            print a new private signing key set (JSON array) for the SigningKeys secret
//   admin-token       mint an admin token offline from FLOTILLA_SIGNING_KEYS (or the local data dir)
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { parseSettings } from '../lib/settings.ts';
import { TokenService, generateSigningKey } from './auth/tokens.ts';
import { KeysSettings } from './settings.ts';

const USAGE = 'usage: tsx functions/keys.ts keygen | admin-token [days]';

async function signingKeys(settings: ReturnType<typeof KeysSettings.parse>): Promise<JWK[]> {
  if (settings.FLOTILLA_SIGNING_KEYS) return settings.FLOTILLA_SIGNING_KEYS as JWK[];
  const path = join(settings.FLOTILLA_DATA_DIR, 'signing-key.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new Error(`no signing key: set FLOTILLA_SIGNING_KEYS, or run npm start once so ${path} exists`);
  }
  try {
    return [JSON.parse(text) as JWK];
  } catch {
    throw new Error(`${path} is not a JSON signing key`);
  }
}

async function main([command, ...args]: string[]): Promise<void> {
  if (command === 'keygen') {
    console.log(JSON.stringify([await generateSigningKey()]));
    return;
  }
  if (command !== 'admin-token') throw Object.assign(new Error(USAGE), { usage: true });
  const days = Number(args[0] ?? 30);
  if (!Number.isInteger(days) || days < 1 || days > 366) throw new Error('days must be a whole number from 1 to 366');
  const settings = parseSettings('flotilla keys', KeysSettings);
  const tokens = await TokenService.create({
    signingKeys: await signingKeys(settings),
    issuer: settings.FLOTILLA_ISSUER,
    audience: settings.FLOTILLA_AUDIENCE,
  });
  const { token } = await tokens.mintUserToken({ subject: 'admin', grants: [{ role: 'admin' }], ttlSeconds: days * 86_400 });
  console.log(token);
}

try {
  await main(process.argv.slice(2));
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(2);
}
