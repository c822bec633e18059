import type { IncomingMessage } from 'node:http';
import type proxyAddr from 'proxy-addr';
import { loadNow, nodeNet } from '../load.js';
import { PortalError } from './errors.js';

/**
 * Which proxies to trust for the client address, read as express's `trust proxy` setting (both go through
 * proxy-addr, and the portal applies the same setting to `portal.app`, so `req.ip` agrees):
 * - `false`: the socket's peer address (no proxy headers are read),
 * - `true`: the left-most `X-Forwarded-For` entry (only behind a proxy that overwrites the header),
 * - a number N: the address N hops to the left of the peer (N trusted proxies in front of the service),
 * - addresses, CIDR ranges or the names `'loopback'`, `'linklocal'`, `'uniquelocal'`, as a list or one
 *   comma-separated string: walk `X-Forwarded-For` from the right past every trusted proxy.
 */
export type TrustProxy = boolean | number | string | readonly string[];

/** Resolve the client address of a request. */
export type IpResolver = (req: IncomingMessage) => string;

/** Whether the address at hop `i` (0 = the socket peer) is a trusted proxy. */
export type TrustFunction = (addr: string, i: number) => boolean;

/** `::ffff:1.2.3.4` and `1.2.3.4` are the same client. */
function normalize(addr: string): string {
  return addr.startsWith('::ffff:') && nodeNet().isIP(addr.slice(7)) === 4 ? addr.slice(7) : addr;
}

function peer(req: IncomingMessage): string {
  return normalize(req.socket.remoteAddress ?? '');
}

const TRUST_ALL: TrustFunction = () => true;
const TRUST_NONE: TrustFunction = () => false;

/** Compile a `trustProxy` setting into proxy-addr's trust function (also what `app.set('trust proxy')` takes). */
export function compileTrust(trust: TrustProxy): TrustFunction {
  if (trust === false) return TRUST_NONE;
  if (trust === true) return TRUST_ALL;
  if (typeof trust === 'number') {
    if (!Number.isInteger(trust) || trust < 0)
      throw new PortalError(`trustProxy: a hop count must be a non-negative integer, got ${String(trust)}`, {
        code: 'ERR_PORTAL_OPTIONS',
      });
    return (_addr, i) => i < trust;
  }
  const list =
    typeof trust === 'string'
      ? trust.split(',').map((s) => s.trim())
      : Array.isArray(trust)
        ? [...(trust as readonly string[])]
        : undefined;
  if (list === undefined || list.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw new PortalError(
      'trustProxy must be a boolean, a hop count, or addresses / CIDR ranges / loopback, linklocal, uniquelocal',
      { code: 'ERR_PORTAL_OPTIONS' },
    );
  }
  try {
    return loadNow<typeof proxyAddr>('proxy-addr').compile(list);
  } catch (err) {
    throw new PortalError(`trustProxy: ${(err as Error).message}`, { code: 'ERR_PORTAL_OPTIONS', cause: err });
  }
}

/** Compile the resolver for a trust function once, at construction; `false` never reads a header. */
export function compileIpResolver(trust: TrustFunction): IpResolver {
  if (trust === TRUST_NONE) return peer;
  const resolve = loadNow<typeof proxyAddr>('proxy-addr');
  return (req) => normalize(resolve(req, trust));
}
