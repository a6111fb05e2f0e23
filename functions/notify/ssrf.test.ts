// The SSRF rule on addresses, on URLs at creation, and on the connection itself.
import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { startReceiver } from '../../test/support/receiver.ts';
import { send } from './http.ts';
import { allowedTargets, checkDestinationUrl, parseAllowedRanges, refusal } from './ssrf.ts';

const none = parseAllowedRanges([]);

describe('addresses', () => {
  it.each([
    '127.0.0.1',
    '127.255.0.9',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fe80::1',
    'fd00::1',
    'fc12::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:169.254.169.254',
    '64:ff9b::a9fe:a9fe',
    '2002:7f00:1::',
    'ff02::1',
  ])('refuses %s', (address) => {
    expect(refusal(address, none)).toMatch(/loopback, link-local, private or reserved/);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '2606:4700::1111', '::ffff:8.8.8.8'])('allows %s', (address) => {
    expect(refusal(address, none)).toBeNull();
  });

  it('allows a range the configuration names, and only that one', () => {
    const loopback = parseAllowedRanges(['127.0.0.0/8', '::1/128']);
    expect(refusal('127.0.0.1', loopback)).toBeNull();
    expect(refusal('::1', loopback)).toBeNull();
    expect(refusal('::ffff:127.0.0.1', loopback)).toBeNull();
    expect(refusal('10.0.0.1', loopback)).not.toBeNull();
    expect(refusal('169.254.169.254', loopback)).not.toBeNull();
  });

  it('refuses a malformed range in the configuration', () => {
    expect(() => parseAllowedRanges(['10.0.0.0/33'])).toThrow(/not an address range/);
    expect(() => parseAllowedRanges(['example.com/8'])).toThrow(/not an address range/);
  });
});

describe('destination URLs at creation', () => {
  it.each(['http://127.0.0.1:9/x', 'http://[::1]/', 'http://localhost:8080/', 'http://api.localhost/', 'http://169.254.169.254/latest/meta-data', 'http://[::ffff:127.0.0.1]/', 'http://0x7f.1/', 'http://2130706433/'])(
    'refuses %s',
    async (url) => {
      expect(await checkDestinationUrl(url, none)).not.toBeNull();
    },
  );

  it('resolves names and checks the addresses they resolve to', async () => {
    // This machine's own name is not refused by name: by the addresses it resolves to (loopback or private here).
    const name = hostname();
    const addresses = await lookup(name, { all: true }).catch(() => []);
    const refused = addresses.some(({ address }) => refusal(address, none) !== null);
    expect(addresses.length, `${name} resolves`).toBeGreaterThan(0);
    const why = await checkDestinationUrl(`http://${name}/`, none);
    if (refused) expect(why).toMatch(/resolves to .*(loopback|private)/);
    else expect(why).toBeNull();
    expect(await checkDestinationUrl(`http://${name}/`, parseAllowedRanges(['0.0.0.0/0', '::/0']))).toBeNull();
  });
});

describe('the connection', () => {
  it('refuses at connect time a name that resolves to a refused address, sending nothing', async () => {
    const receiver = await startReceiver();
    try {
      const port = new URL(receiver.url).port;
      const refused = await send(`http://localhost:${port}/`, { headers: {}, body: '{}' }, { timeoutMs: 1000, allowed: none });
      expect(refused).toMatchObject({ ok: false, statusCode: null, error: expect.stringContaining('refused') });
      const literal = await send(`http://127.0.0.1:${port}/`, { headers: {}, body: '{}' }, { timeoutMs: 1000, allowed: none });
      expect(literal.error).toContain('refused');
      expect(receiver.received).toHaveLength(0);
      const allowed = await send(`http://localhost:${port}/`, { headers: {}, body: '{}' }, { timeoutMs: 1000, allowed: allowedTargets({ allowCidrs: ['127.0.0.0/8', '::1/128'] }) });
      expect(allowed).toMatchObject({ ok: true, statusCode: 200 });
      expect(receiver.received).toHaveLength(1);
    } finally {
      await receiver.stop();
    }
  });

  it('reads at most a few KiB of the response', async () => {
    const receiver = await startReceiver((_n, _request, response) => {
      response.writeHead(200);
      response.end('x'.repeat(1024 * 1024));
      return 'handled';
    });
    try {
      const result = await send(receiver.url, { headers: {}, body: '{}' }, { timeoutMs: 2000, allowed: allowedTargets({ allowCidrs: ['127.0.0.0/8'] }), maxResponseBytes: 4096 });
      expect(result.ok).toBe(true);
      expect(result.body.length).toBe(4096);
    } finally {
      await receiver.stop();
    }
  });
});
