import { createLifecycleSource, type LifecycleSource } from '../../lifecycle/index.js';
import type { Logger } from '../../logger.js';
import { GateConfigError, MemoryRateLimitStore, SqliteRateLimitStore, SqliteRevocationStore, type RateLimitStore, type RevocationStore } from '../gates/index.js';
import type { RealtimeAdapter } from '../realtime/index.js';
import type { ResolvedPortalOptions } from './options.js';

/** Every store a portal uses, built from its options. Nothing above these interfaces knows which one runs. */
export interface PortalStores {
  rateLimits: RateLimitStore;
  revocations: RevocationStore;
  lifecycleSource: LifecycleSource;
  /** The Socket.IO adapter; `undefined` is Socket.IO's in-memory adapter (one instance). */
  realtimeAdapter: RealtimeAdapter | undefined;
}

/**
 * Choose the portal's stores from its options: the one place that turns an option into an implementation.
 *
 * Each store is an interface with its implementations side by side in the capability's folder, one file each:
 * - rate limits: `RateLimitStore` (gates/rate-limit-store.ts): memory (rate-limit-memory.ts), sqlite (rate-limit-sqlite.ts)
 * - revocations: `RevocationStore` (gates/revocation-store.ts): sqlite (revocation-sqlite.ts)
 * - lifecycle state: `LifecycleSource` (lifecycle/sources.ts): memory, env, file, sqlite, or the user's own object
 * - realtime delivery: the Socket.IO adapter (`websocket.adapter`, e.g. `@socket.io/redis-adapter`)
 *
 * Adding a backend (Redis, say) means: a `rate-limit-redis.ts` / `revocation-redis.ts` / source implementing
 * the same interface, plus one branch per store below keyed on the new option value. Nothing else changes.
 *
 * On failure, whatever was already opened is closed before the error is rethrown.
 */
export function createStores(options: ResolvedPortalOptions, log: Logger): PortalStores {
  const opened: Array<{ close(): void | Promise<void> }> = [];
  try {
    const rateLimits = chooseRateLimitStore(options);
    opened.push(rateLimits);
    const revocations = new SqliteRevocationStore({ dataDir: options.dataDir, log: log.child({ component: 'gates' }) });
    opened.push(revocations);
    const lifecycleSource = createLifecycleSource({ dataDir: options.dataDir, ...options.lifecycle });
    return { rateLimits, revocations, lifecycleSource, realtimeAdapter: options.websocket?.adapter };
  } catch (err) {
    for (const store of opened) void store.close();
    throw err;
  }
}

function chooseRateLimitStore(options: ResolvedPortalOptions): RateLimitStore {
  const name: unknown = options.rateLimitStore;
  if (name === 'memory') return new MemoryRateLimitStore();
  if (name === 'sqlite') return new SqliteRateLimitStore(options.dataDir);
  throw new GateConfigError(`rateLimitStore must be 'memory' or 'sqlite', got ${String(name)}`);
}

/** Close the stores a portal created (the lifecycle source closes with its Lifecycle). Each close is guarded. */
export async function closeStores(stores: PortalStores, log: Logger): Promise<void> {
  for (const [name, store] of [
    ['rate-limit store', stores.rateLimits],
    ['revocation store', stores.revocations],
  ] as const) {
    try {
      await store.close();
    } catch (err) {
      log.error({ err }, `close: the ${name} failed to close`);
    }
  }
}
