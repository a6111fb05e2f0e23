// Where notifications may go: never to loopback, link-local (cloud metadata), private, shared,
// multicast or reserved addresses unless the configuration allows a range explicitly. Checked on
// the URL when a subscription is created and, at every delivery, on each address its host
// resolves to: the connection goes to the address that was checked (no second lookup to rebind).
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';

const BLOCKED_V4: [string, number][] = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];
const BLOCKED_V6: [string, number][] = [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
  ['2001:db8::', 32],
  ['100::', 64],
];

const blocked = new BlockList();
for (const [address, prefix] of BLOCKED_V4) blocked.addSubnet(address, prefix, 'ipv4');
for (const [address, prefix] of BLOCKED_V6) blocked.addSubnet(address, prefix, 'ipv6');

export class TargetRefused extends Error {
  override readonly name = 'TargetRefused';
}

/** `a.b.c.d/n` or `x::/n` ranges an operator allows despite the rule (e.g. 127.0.0.0/8 for tests, 10.0.0.0/8 on a private network). */
export function parseAllowedRanges(ranges: readonly string[]): BlockList {
  const allowed = new BlockList();
  for (const range of ranges) {
    const [address, bits] = range.split('/');
    const family = isIP(address ?? '');
    const prefix = Number(bits ?? (family === 6 ? 128 : 32));
    if (!family || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32)) {
      throw new Error(`not an address range (CIDR): ${range}`);
    }
    allowed.addSubnet(address!, prefix, family === 6 ? 'ipv6' : 'ipv4');
  }
  return allowed;
}

/** The IPv4 address an IPv6 one carries (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16), if any. */
function embeddedV4(address: string): string | null {
  const lower = address.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped) return mapped[1]!;
  const groups = expandV6(lower);
  if (!groups) return null;
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return v4(groups[6]!, groups[7]!);
  if (groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((g) => g === 0)) return v4(groups[6]!, groups[7]!);
  if (groups[0] === 0x2002) return v4(groups[1]!, groups[2]!);
  return null;
}

function expandV6(address: string): number[] | null {
  let text = address;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const parts = dotted[1]!.split('.').map(Number);
    text = text.slice(0, -dotted[1]!.length) + `${((parts[0]! << 8) | parts[1]!).toString(16)}:${((parts[2]! << 8) | parts[3]!).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const fill = text.includes('::') ? 8 - left.length - right.length : 0;
  const groups = [...left, ...Array(Math.max(fill, 0)).fill('0'), ...right].map((g) => parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : null;
}

/** Why an address may not be a destination, or null when it may. */
export function refusal(address: string, allowed: BlockList): string | null {
  const family = isIP(address);
  if (!family) return `${address} is not an IP address`;
  const type = family === 6 ? 'ipv6' : 'ipv4';
  if (allowed.check(address, type)) return null;
  const v4 = family === 6 ? embeddedV4(address) : null;
  if (v4 && allowed.check(v4, 'ipv4')) return null;
  if (blocked.check(address, type) || (v4 !== null && blocked.check(v4, 'ipv4'))) {
    return `${address} is a loopback, link-local, private or reserved address (allow its range with FLOTILLA_NOTIFY_ALLOW_CIDRS)`;
  }
  return null;
}

/** How long creating a subscription waits for its host to resolve. */
const CREATE_LOOKUP_MS = 2000;

const hostOf = (url: URL) => url.hostname.replace(/^\[|\]$/g, '');

/**
 * The check when a subscription is created: an IP literal or a name that resolves to a refused
 * address is refused now; a name that does not resolve (yet) is checked again at delivery.
 */
export async function checkDestinationUrl(value: string, allowed: BlockList): Promise<string | null> {
  const url = new URL(value);
  const host = hostOf(url).toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) {
    return refusal('127.0.0.1', allowed) === null ? null : `${host} is loopback (allow 127.0.0.0/8 with FLOTILLA_NOTIFY_ALLOW_CIDRS)`;
  }
  if (isIP(host)) return refusal(host, allowed);
  let addresses: { address: string }[] = [];
  try {
    // A resolver that does not answer does not hold the request: the name is checked again at delivery.
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), CREATE_LOOKUP_MS).unref());
    addresses = await Promise.race([dnsLookup(host, { all: true, verbatim: true }), timeout]);
  } catch {
    return null;
  }
  for (const { address } of addresses) {
    const why = refusal(address, allowed);
    if (why) return `${host} resolves to ${why}`;
  }
  return null;
}

const parsedRanges = new WeakMap<readonly string[], BlockList>();
/** The allowed ranges of a configuration, parsed once. */
export function allowedTargets(config: { allowCidrs: readonly string[] }): BlockList {
  let allowed = parsedRanges.get(config.allowCidrs);
  if (!allowed) parsedRanges.set(config.allowCidrs, (allowed = parseAllowedRanges(config.allowCidrs)));
  return allowed;
}

/** A lookup for node:http that resolves, refuses the connection when any address is refused, and connects to a checked one. */
export function guardedLookup(allowed: BlockList): LookupFunction {
  return (hostname, options, callback) => {
    const host = hostname.replace(/^\[|\]$/g, '');
    const answer = (addresses: { address: string; family: number }[]) => {
      for (const { address } of addresses) {
        const why = refusal(address, allowed);
        if (why) return callback(new TargetRefused(`${host}: ${why}`), '', 4);
      }
      const [first] = addresses;
      if (!first) return callback(new TargetRefused(`${host} has no address`), '', 4);
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: typeof addresses) => void)(null, addresses);
      callback(null, first.address, first.family);
    };
    if (isIP(host)) return answer([{ address: host, family: isIP(host) }]);
    dnsLookup(host, { all: true, verbatim: true }).then(answer, (err: Error) => callback(err as NodeJS.ErrnoException, '', 4));
  };
}
