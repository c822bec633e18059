import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/**
 * Which proxies to trust for the client address:
 * - `false`: the socket's peer address (no proxy headers are read),
 * - `true`: the left-most `X-Forwarded-For` entry (only behind a proxy that overwrites the header),
 * - a number N: the address N hops to the left of the peer (N trusted proxies in front of the service),
 * - a list of proxy addresses: walk `X-Forwarded-For` from the right past every trusted proxy.
 */
export type TrustProxy = boolean | number | readonly string[];

/** Resolve the client address of a request. */
export type IpResolver = (req: IncomingMessage) => string;

function peer(req: IncomingMessage): string {
  return normalize(req.socket.remoteAddress ?? '');
}

/** `::ffff:1.2.3.4` and `1.2.3.4` are the same client. */
function normalize(addr: string): string {
  return addr.startsWith('::ffff:') && isIP(addr.slice(7)) === 4 ? addr.slice(7) : addr;
}

function forwardedChain(req: IncomingMessage): string[] {
  const raw = req.headers['x-forwarded-for'];
  if (!raw) return [];
  const text = Array.isArray(raw) ? raw.join(',') : raw;
  const out: string[] = [];
  for (const part of text.split(',')) {
    const addr = normalize(part.trim());
    if (isIP(addr)) out.push(addr);
  }
  return out;
}

/** Compile the resolver for a `trustProxy` setting once, at construction. */
export function compileIpResolver(trust: TrustProxy): IpResolver {
  if (trust === false) return peer;
  if (trust === true) return (req) => forwardedChain(req)[0] ?? peer(req);
  if (typeof trust === 'number') {
    if (!Number.isInteger(trust) || trust < 0) throw new RangeError('trustProxy: a hop count must be a non-negative integer');
    return (req) => {
      // chain = client, proxy1, ..., proxyK, then the peer: skip `trust` addresses from the right.
      const chain = [...forwardedChain(req), peer(req)];
      return chain[Math.max(0, chain.length - 1 - trust)] ?? peer(req);
    };
  }
  const trusted = new Set(trust.map(normalize));
  return (req) => {
    let addr = peer(req);
    if (!trusted.has(addr)) return addr;
    const chain = forwardedChain(req);
    for (let i = chain.length - 1; i >= 0; i--) {
      addr = chain[i]!;
      if (!trusted.has(addr)) return addr;
    }
    return addr;
  };
}
