// The notification settings of both entry points: parsed at start, a bad range refused in one sentence.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseSettings } from '../../lib/settings.ts';
import { LambdaSettings, LocalSettings, notifyConfig } from '../settings.ts';

const run = promisify(execFile);

describe('notification settings', () => {
  it('reads the allowed ranges and the dashboard URL, the same for both entry points', () => {
    const env = { FLOTILLA_NOTIFY_ALLOW_CIDRS: '127.0.0.0/8, 10.0.0.0/8,fd00::/8', FLOTILLA_PUBLIC_URL: 'https://flotilla.example.com' };
    expect(notifyConfig(parseSettings('t', LocalSettings, env))).toEqual({ allowCidrs: ['127.0.0.0/8', '10.0.0.0/8', 'fd00::/8'], publicUrl: 'https://flotilla.example.com' });
    const lambda = parseSettings('t', LambdaSettings, { ...env, FLOTILLA_TABLE: 't', FLOTILLA_BUCKET: 'b', FLOTILLA_SIGNING_KEYS: '[{"kty":"OKP","d":"x"}]' });
    expect(notifyConfig(lambda).allowCidrs).toHaveLength(3);
    expect(notifyConfig(parseSettings('t', LocalSettings, {}))).toEqual({ allowCidrs: [], publicUrl: null });
    expect(parseSettings('t', LocalSettings, {}).FLOTILLA_NOTIFY_SECONDS).toBe(1);
  });

  it('refuses a bad range or URL, naming it', () => {
    expect(() => parseSettings('flotilla', LocalSettings, { FLOTILLA_NOTIFY_ALLOW_CIDRS: '10.0.0.0/40' })).toThrow(/^flotilla: bad settings: FLOTILLA_NOTIFY_ALLOW_CIDRS: not an address range \(CIDR\): 10\.0\.0\.0\/40$/);
    expect(() => parseSettings('flotilla', LocalSettings, { FLOTILLA_PUBLIC_URL: 'javascript:alert(1)' })).toThrow(/FLOTILLA_PUBLIC_URL: must be an http\(s\) URL/);
  });

  it('npm start fails in one sentence on a bad range', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flotilla-notify-settings-'));
    try {
      const failure = await run(process.execPath, ['--import', 'tsx', 'functions/local.ts'], {
        env: { ...process.env, FLOTILLA_DATA_DIR: dir, PORT: '0', FLOTILLA_NOTIFY_ALLOW_CIDRS: 'everything' },
        timeout: 60_000,
      }).then(
        () => null,
        (err: { code: number; stderr: string }) => err,
      );
      expect(failure?.code).toBe(2);
      expect(failure?.stderr.trim()).toBe('flotilla: bad settings: FLOTILLA_NOTIFY_ALLOW_CIDRS: not an address range (CIDR): everything');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
