import type { AdminThrottleOptions } from './options.js';

/** What the throttle says about one admin request before its token is checked. */
export type ThrottleVerdict =
  { kind: 'check' } | { kind: 'slowed'; retryAfterSec: number } | { kind: 'locked'; retryAfterSec: number };

/** What happened on a bad token, for the log and the audit. */
export interface FailureOutcome {
  /** Bad tokens from this address within the window, this one included. */
  failures: number;
  /** This failure slowed the address down (logged once). */
  slowedNow: boolean;
  /** This failure locked the address out (logged and audited once). */
  lockedNow: boolean;
}

interface ClientRecord {
  /** Times (epoch ms) of the bad tokens within the window, oldest first; at most `lockAfter` kept. */
  failures: number[];
  /** Earliest time the next token is checked while slowed. */
  nextCheckAt: number;
  /** End of the lock-out, or 0. */
  lockedUntil: number;
}

/** Most client addresses tracked; the least recently failing one is forgotten beyond it. */
const MAX_CLIENTS = 10_000;

/**
 * Slows, then locks out, client addresses that send bad admin tokens (see `ControlPlaneOptions.adminThrottle`).
 * Memory is bounded: at most {@link MAX_CLIENTS} addresses, each with at most `lockAfter` timestamps.
 */
export class AdminThrottle {
  private readonly clients = new Map<string, ClientRecord>();

  constructor(private readonly o: AdminThrottleOptions) {}

  /** Whether a request from `ip` may have its token checked now. */
  verdict(ip: string, now: number = Date.now()): ThrottleVerdict {
    const c = this.clients.get(ip);
    if (c === undefined) return { kind: 'check' };
    if (c.lockedUntil > now) return { kind: 'locked', retryAfterSec: Math.ceil((c.lockedUntil - now) / 1000) };
    this.prune(c, now);
    if (c.failures.length >= this.o.slowAfter && c.nextCheckAt > now)
      return { kind: 'slowed', retryAfterSec: Math.max(1, Math.ceil((c.nextCheckAt - now) / 1000)) };
    return { kind: 'check' };
  }

  /** Record a bad token from `ip`. */
  failed(ip: string, now: number = Date.now()): FailureOutcome {
    let c = this.clients.get(ip);
    if (c === undefined) {
      if (this.clients.size >= MAX_CLIENTS) this.clients.delete(this.clients.keys().next().value as string);
      c = { failures: [], nextCheckAt: 0, lockedUntil: 0 };
    } else {
      this.clients.delete(ip); // re-inserted below: the map's order is least recently failing first
    }
    this.clients.set(ip, c);
    this.prune(c, now);
    c.failures.push(now);
    if (c.failures.length > this.o.lockAfter) c.failures.shift();
    const n = c.failures.length;
    // The bad tokens stay counted through the lock-out: the first one after it (within windowMs) locks again.
    const lockedNow = n >= this.o.lockAfter && this.o.lockMs > 0;
    if (lockedNow) c.lockedUntil = now + this.o.lockMs;
    c.nextCheckAt = n >= this.o.slowAfter ? now + this.o.slowIntervalMs : 0;
    return { failures: n, slowedNow: n === this.o.slowAfter && !lockedNow, lockedNow };
  }

  /** A good token from `ip` (not locked out) clears its bad ones. */
  succeeded(ip: string): void {
    this.clients.delete(ip);
  }

  /** Number of addresses tracked (for tests and `/status`). */
  get size(): number {
    return this.clients.size;
  }

  private prune(c: ClientRecord, now: number): void {
    const cutoff = now - this.o.windowMs;
    while (c.failures.length > 0 && (c.failures[0] as number) <= cutoff) c.failures.shift();
  }
}
