import { BlockList, isIPv4 } from 'node:net';

/** What an IP address is, as far as calling it from a server goes. Only `public` is always allowed. */
export type AddressRange =
  | 'public'
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'link_local'
  | 'carrier_nat'
  | 'metadata'
  | 'multicast'
  | 'reserved'
  | 'invalid';

export interface IpAddress {
  address: string;
  family: 4 | 6;
}

/** Ranges `SPOOL_WEBHOOK_ALLOW_PRIVATE=true` opens; metadata, multicast and reserved addresses stay closed. */
const PRIVATE_RANGES: ReadonlySet<AddressRange> = new Set(['loopback', 'private', 'link_local', 'carrier_nat']);

function blockList(family: 'ipv4' | 'ipv6', subnets: string[]): BlockList {
  const list = new BlockList();
  for (const subnet of subnets) {
    const [network, bits] = subnet.split('/');
    if (bits === undefined) list.addAddress(network, family);
    else list.addSubnet(network, Number(bits), family);
  }
  return list;
}

/** Checked in order: the first list holding the address names its range. */
const IPV4: [AddressRange, BlockList][] = [
  // cloud instance metadata: AWS/GCP/Azure/Oracle, AWS ECS and DNS, Azure wire server, Alibaba
  ['metadata', blockList('ipv4', ['169.254.169.254', '169.254.170.2', '169.254.169.253', '168.63.129.16', '100.100.100.200'])],
  ['unspecified', blockList('ipv4', ['0.0.0.0/8'])],
  ['loopback', blockList('ipv4', ['127.0.0.0/8'])],
  ['private', blockList('ipv4', ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'])],
  ['link_local', blockList('ipv4', ['169.254.0.0/16'])],
  ['carrier_nat', blockList('ipv4', ['100.64.0.0/10'])],
  ['multicast', blockList('ipv4', ['224.0.0.0/4'])],
  // IETF protocol assignments, documentation, 6to4 relay, benchmarking, class E and broadcast
  ['reserved', blockList('ipv4', ['192.0.0.0/24', '192.0.2.0/24', '192.88.99.0/24', '198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24', '240.0.0.0/4'])],
];

const IPV6: [AddressRange, BlockList][] = [
  ['metadata', blockList('ipv6', ['fd00:ec2::254'])],
  ['unspecified', blockList('ipv6', ['::'])],
  ['loopback', blockList('ipv6', ['::1'])],
  // unique local, and the deprecated site-local
  ['private', blockList('ipv6', ['fc00::/7', 'fec0::/10'])],
  ['link_local', blockList('ipv6', ['fe80::/10'])],
  ['multicast', blockList('ipv6', ['ff00::/8'])],
  // inside global unicast: IETF assignments (Teredo, benchmarking, ORCHID), documentation, 6to4
  ['reserved', blockList('ipv6', ['2001::/23', '2001:db8::/32', '2002::/16', '3fff::/20'])],
];

/** Everything outside 2000::/3 is not global unicast today. */
const GLOBAL_UNICAST_V6 = blockList('ipv6', ['2000::/3']);

/** The eight 16-bit groups of a canonical (compressed, hex-only) IPv6 address. */
function hextets(address: string): number[] {
  const [head, tail] = address.split('::');
  const groups = (part: string | undefined) => (part ? part.split(':').map((group) => parseInt(group, 16)) : []);
  const left = groups(head);
  const right = groups(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/**
 * The canonical address of an IP literal, read the way a URL host is (the WHATWG parser, which is
 * what Node's HTTP client connects to): `2130706433`, `0177.0.0.1`, `0x7f.1` and `127.1` are all
 * 127.0.0.1, and `[::ffff:127.0.0.1]` is `::ffff:7f00:1`. Null when `host` is a name to resolve;
 * `invalid` when it looks like an address but is not one.
 */
export function parseIpLiteral(host: string): IpAddress | 'invalid' | null {
  let text = host.trim();
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  if (text.includes(':')) {
    const canonical = hostOf(`[${text.replace(/%.*$/, '')}]`);
    return canonical ? { address: canonical.slice(1, -1), family: 6 } : 'invalid';
  }
  const canonical = hostOf(text);
  if (canonical === null) return /^[\d.]+$|^0x/i.test(text) ? 'invalid' : null;
  return isIPv4(canonical) ? { address: canonical, family: 4 } : null;
}

function hostOf(text: string): string | null {
  try {
    return new URL(`http://${text}/`).hostname;
  } catch {
    return null;
  }
}

function classifyIpv4(address: string): AddressRange {
  for (const [range, list] of IPV4) if (list.check(address, 'ipv4')) return range;
  return 'public';
}

function classifyIpv6(address: string): AddressRange {
  const groups = hextets(address);
  const embedsIpv4 =
    // IPv4-mapped ::ffff:0:0/96
    (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) ||
    // NAT64 well-known prefix 64:ff9b::/96
    (groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((group) => group === 0));
  if (embedsIpv4) {
    return classifyIpv4([groups[6] >> 8, groups[6] & 0xff, groups[7] >> 8, groups[7] & 0xff].join('.'));
  }
  for (const [range, list] of IPV6) if (list.check(address, 'ipv6')) return range;
  return GLOBAL_UNICAST_V6.check(address, 'ipv6') ? 'public' : 'reserved';
}

/**
 * The range of an IP literal in any form a URL or `dns.lookup` gives (see `parseIpLiteral`);
 * null when `host` is a name. IPv4-mapped and NAT64 addresses are judged by the IPv4 inside.
 */
export function classifyAddress(host: string): AddressRange | null {
  const parsed = parseIpLiteral(host);
  if (parsed === null) return null;
  if (parsed === 'invalid') return 'invalid';
  return parsed.family === 4 ? classifyIpv4(parsed.address) : classifyIpv6(parsed.address);
}

/** Whether a webhook may be sent to an address of this range. */
export function isAllowedRange(range: AddressRange, allowPrivate: boolean): boolean {
  return range === 'public' || (allowPrivate && PRIVATE_RANGES.has(range));
}
