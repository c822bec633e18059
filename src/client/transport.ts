/**
 * The client's transport: undici keep-alive Agents (a pool per origin), loaded on the first outbound request
 * and cached, and the DNS lookup they connect with.
 */
import type * as Dns from 'node:dns';
import type { LookupAllOptions, LookupAddress } from 'node:dns';
import type * as Undici from 'undici';
import type { Agent } from 'undici';
import { loadNow } from '../load.js';

/** What a connector's `lookup` receives and answers (the shape of `dns.lookup` with `all: true`). */
export type LookupCallback = (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void;

/** Connection settings of a client's Agents. */
export interface AgentSettings {
  /** Idle keep-alive time of a pooled socket, in ms. */
  keepAliveTimeout: number;
  /** Sockets per origin (null: no limit). */
  connections: number | null;
}

/** RFC 6761: names under `.invalid` never resolve, so answer locally and never ask a resolver. */
export function safeLookup(hostname: string, options: LookupAllOptions, callback: LookupCallback): void {
  const h = hostname.toLowerCase();
  if (h === 'invalid' || h.endsWith('.invalid') || h.endsWith('.invalid.')) {
    const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
      code: 'ENOTFOUND',
      errno: -3008,
      syscall: 'getaddrinfo',
      hostname,
    });
    process.nextTick(callback, err);
    return;
  }
  loadNow<typeof Dns>('node:dns').lookup(hostname, options, callback);
}

/**
 * A new undici Agent. undici is loaded here, on the first outbound request of the first client (then cached by
 * `loadNow`); a client creates its Agents once, so later requests pay nothing for it.
 * @param settings - keep-alive and pool size
 * @param lookup - the connector's DNS lookup (`dns.lookup`-shaped)
 */
export function newAgent(settings: AgentSettings, lookup: (...args: never[]) => void): Agent {
  const undici = loadNow<typeof Undici>('undici');
  return new undici.Agent({ ...settings, connect: { lookup: lookup as never } });
}
