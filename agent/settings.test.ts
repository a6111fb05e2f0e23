import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SettingsError, parseSettings } from '../lib/settings.ts';
import { AgentSettings } from './settings.ts';

const execFileAsync = promisify(execFile);

describe('agent settings', () => {
  it('applies the defaults', () => {
    expect(parseSettings('flotilla-agent', AgentSettings, { FLOTILLA_CONTROL_PLANE_URL: 'https://flotilla.example.com' })).toEqual({
      FLOTILLA_CONTROL_PLANE_URL: 'https://flotilla.example.com',
      FLOTILLA_LISTEN_PORT: 8080,
      FLOTILLA_LOG_LEVEL: 'info',
      FLOTILLA_PLAIN_HTTP_REGISTRIES: false,
      FLOTILLA_WATCH: true,
      FLOTILLA_RESYNC_SECONDS: 300,
    });
  });

  it('reads every variable it knows, as the types the agent uses', () => {
    const settings = parseSettings('flotilla-agent', AgentSettings, {
      FLOTILLA_CONTROL_PLANE_URL: 'http://127.0.0.1:9',
      FLOTILLA_INTERVAL_SECONDS: '2.5',
      FLOTILLA_LISTEN_PORT: '0',
      FLOTILLA_LOG_LEVEL: 'debug',
      FLOTILLA_PLAIN_HTTP_REGISTRIES: 'true',
      FLOTILLA_NAMESPACE: '',
    });
    expect(settings).toMatchObject({ FLOTILLA_INTERVAL_SECONDS: 2.5, FLOTILLA_LISTEN_PORT: 0, FLOTILLA_LOG_LEVEL: 'debug', FLOTILLA_PLAIN_HTTP_REGISTRIES: true });
    expect(settings.FLOTILLA_NAMESPACE).toBeUndefined();
  });

  it('reads the watch settings and bounds the full check interval', () => {
    const base = { FLOTILLA_CONTROL_PLANE_URL: 'https://flotilla.example.com' };
    expect(parseSettings('flotilla-agent', AgentSettings, { ...base, FLOTILLA_WATCH: 'false', FLOTILLA_RESYNC_SECONDS: '600' })).toMatchObject({
      FLOTILLA_WATCH: false,
      FLOTILLA_RESYNC_SECONDS: 600,
    });
    expect(() => parseSettings('flotilla-agent', AgentSettings, { ...base, FLOTILLA_RESYNC_SECONDS: '5' })).toThrow(/FLOTILLA_RESYNC_SECONDS: must be at least 30/);
    expect(() => parseSettings('flotilla-agent', AgentSettings, { ...base, FLOTILLA_RESYNC_SECONDS: '100000' })).toThrow(/FLOTILLA_RESYNC_SECONDS: must be at most 86400/);
    expect(() => parseSettings('flotilla-agent', AgentSettings, { ...base, FLOTILLA_RESYNC_SECONDS: 'often' })).toThrow(/FLOTILLA_RESYNC_SECONDS: must be a number/);
  });

  it('names every bad setting in one message', () => {
    const parse = () => parseSettings('flotilla-agent', AgentSettings, { FLOTILLA_INTERVAL_SECONDS: 'soon', FLOTILLA_LISTEN_PORT: '99999' });
    expect(parse).toThrow(SettingsError);
    const message = (() => {
      try {
        parse();
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(message).toMatch(/^flotilla-agent: bad settings: /);
    expect(message).toContain('FLOTILLA_CONTROL_PLANE_URL is required');
    expect(message).toMatch(/FLOTILLA_INTERVAL_SECONDS: must be a number/);
    expect(message).toContain('FLOTILLA_LISTEN_PORT: must be at most 65535');
  });

  it('the entry point prints that message as one line on stderr and exits with code 2', async () => {
    const failure = await execFileAsync(process.execPath, ['--import', 'tsx', 'agent/main.ts'], {
      env: { PATH: process.env['PATH'], FLOTILLA_INTERVAL_SECONDS: '0', FLOTILLA_LOG_LEVEL: 'loud' },
    }).catch((error: { code: number; stdout: string; stderr: string }) => error);
    expect('code' in failure && failure.code).toBe(2);
    expect(failure.stdout).toBe('');
    const lines = failure.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^flotilla-agent: bad settings: .*FLOTILLA_CONTROL_PLANE_URL is required/);
    expect(lines[0]).toMatch(/FLOTILLA_INTERVAL_SECONDS: must be a positive number/);
    expect(lines[0]).toMatch(/FLOTILLA_LOG_LEVEL: must be debug, info, warn or error/);
  });
});
