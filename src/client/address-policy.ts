/**
 * Where the client may connect: `allowHosts` (host names, `*.` wildcards) and `blockPrivateAddresses` (checked on
 * every resolved address at connect time, so DNS rebinding and numeric or IPv4-mapped spellings are caught).
 */
import type { LookupAddress, LookupAllOptions, LookupOneOptions } from 'node:dns';
import type { BlockList } from 'node:net';
import { nodeNet } from '../load.js';

/** Error code a refused connection carries through undici; `attempt.ts` maps it to `BLOCKED`. */
export const BLOCKED_CODE = 'ERR_GATEHOUSE_BLOCKED';

let privateList: BlockList | undefined;

/** The private, loopback, link-local ... ranges, built on first use (node:net loads then). */
function privateRanges(): BlockList {
  if (privateList) return privateList;
  const PRIVATE = new (nodeNet().BlockList)();
  // IPv4: this network, private, carrier-grade NAT, loopback, link-local, IETF protocol assignments, benchmarking,
  // multicast, reserved and broadcast.
  for (const [net, prefix] of [
    ['0.0.0.0', 8],
    ['10.0.0.0', 8],
    ['100.64.0.0', 10],
    ['127.0.0.0', 8],
    ['169.254.0.0', 16],
    ['172.16.0.0', 12],
    ['192.0.0.0', 24],
    ['192.168.0.0', 16],
    ['198.18.0.0', 15],
    ['224.0.0.0', 4],
    ['240.0.0.0', 4],
  ] as const) {
    PRIVATE.addSubnet(net, prefix, 'ipv4');
  }
  // IPv6: unspecified, loopback and IPv4-compatible (::/96), unique-local, link-local, site-local, multicast,
  // NAT64 (64:ff9b::/96 reaches IPv4 space). IPv4-mapped forms (::ffff:a.b.c.d) are checked against the IPv4 rules.
  for (const [net, prefix] of [
    ['::', 96],
    ['fc00::', 7],
    ['fe80::', 10],
    ['fec0::', 10],
    ['ff00::', 8],
    ['64:ff9b::', 96],
  ] as const) {
    PRIVATE.addSubnet(net, prefix, 'ipv6');
  }
  privateList = PRIVATE;
  return PRIVATE;
}

/** Whether an IP address is loopback, private, link-local, unique-local, unspecified (or an IPv4-mapped form of one). */
export function isPrivateAddress(address: string): boolean {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const family = nodeNet().isIP(bare);
  if (family === 0) return false;
  return privateRanges().check(bare, family === 4 ? 'ipv4' : 'ipv6');
}

/** A compiled `allowHosts` list: exact names and `*.suffix` wildcards (subdomains only), case-insensitive. */
export type HostMatcher = (host: string) => boolean;

/** Compile `allowHosts` once; returns an error message for a bad entry. */
export function compileAllowHosts(list: readonly string[]): HostMatcher | string {
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const entry of list) {
    if (typeof entry !== 'string' || entry.length === 0) return 'allowHosts entries must be non-empty strings';
    const e = normalizeHost(entry);
    if (e.startsWith('*.')) {
      if (e.length < 3 || e.slice(2).includes('*')) return `allowHosts: bad wildcard ${JSON.stringify(entry)}`;
      suffixes.push(e.slice(1));
    } else {
      if (e.includes('*')) return `allowHosts: a wildcard must be a leading "*." (got ${JSON.stringify(entry)})`;
      exact.add(e);
    }
  }
  return (host) => {
    const h = normalizeHost(host);
    if (exact.has(h)) return true;
    for (const s of suffixes) if (h.length > s.length && h.endsWith(s)) return true;
    return false;
  };
}

function normalizeHost(host: string): string {
  const h = host.toLowerCase();
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

/** The resolver {@link guardedLookup} wraps: node's `dns.lookup` with `all: true`. */
export type BaseLookup = (
  hostname: string,
  options: LookupAllOptions,
  cb: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

/** A `lookup` function as node's `net.connect` calls it. */
export type ConnectLookup = (
  hostname: string,
  options: LookupOneOptions | LookupAllOptions,
  callback: LookupCallback,
) => void;

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

function blockedError(hostname: string, detail: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`blocked by blockPrivateAddresses: ${hostname} ${detail}`), { code: BLOCKED_CODE });
}

/**
 * A `lookup` for undici's connector that resolves as usual, then drops every private address; with none left the
 * connection fails with {@link BLOCKED_CODE} and nothing is sent. Runs for every new connection, so a name that
 * resolves elsewhere later (DNS rebinding) is checked again.
 */
export function guardedLookup(base: BaseLookup): ConnectLookup {
  return (hostname: string, options: LookupOneOptions | LookupAllOptions, callback: LookupCallback): void => {
    base(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const allowed = addresses.filter((a) => !isPrivateAddress(a.address));
      if (allowed.length === 0)
        return callback(
          blockedError(hostname, `resolves to ${addresses.map((a) => a.address).join(', ') || 'nothing'}`),
          [],
        );
      if ((options as LookupAllOptions).all === true) return callback(null, allowed);
      const first = allowed[0]!;
      callback(null, first.address, first.family);
    });
  };
}
