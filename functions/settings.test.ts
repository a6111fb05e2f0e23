import { describe, expect, it } from 'vitest';
import { parseSettings } from '../lib/settings.ts';
import { DEFAULT_ISSUER, KeysSettings, LambdaSettings, LocalSettings } from './settings.ts';

describe('control-plane settings', () => {
  it('lists every missing or bad Lambda setting in one message', () => {
    expect(() => parseSettings('flotilla control plane', LambdaSettings, { FLOTILLA_SIGNING_KEYS: '[{', FLOTILLA_S3_ENDPOINT: 'ftp://x' })).toThrow(
      /^flotilla control plane: bad settings: (?=.*FLOTILLA_TABLE is required)(?=.*FLOTILLA_BUCKET is required)(?=.*FLOTILLA_SIGNING_KEYS: must be valid JSON)(?=.*FLOTILLA_S3_ENDPOINT: must be an http\(s\) URL)/,
    );
  });

  it('applies one default issuer everywhere', () => {
    const keys = [{ kty: 'OKP', d: 'x', kid: 'k' }];
    const lambda = parseSettings('t', LambdaSettings, { FLOTILLA_TABLE: 't', FLOTILLA_BUCKET: 'b', FLOTILLA_SIGNING_KEYS: JSON.stringify(keys) });
    expect(lambda.FLOTILLA_ISSUER).toBe(DEFAULT_ISSUER);
    expect(lambda.FLOTILLA_OIDC).toEqual([]);
    expect(parseSettings('t', KeysSettings, {}).FLOTILLA_ISSUER).toBe(DEFAULT_ISSUER);
  });

  it('treats empty values as unset and parses numbers', () => {
    expect(parseSettings('t', LocalSettings, { PORT: '', HOST: '' })).toMatchObject({ PORT: 8080, HOST: '127.0.0.1', FLOTILLA_DATA_DIR: '.data' });
    expect(parseSettings('t', LocalSettings, { PORT: '9090' }).PORT).toBe(9090);
    expect(() => parseSettings('t', LocalSettings, { PORT: '70000' })).toThrow(/PORT: /);
  });
});
