/**
 * Load on use: the one way a capability loads a dependency that only some options or calls need (ioredis,
 * bullmq, socket.io, piscina, pino-pretty, light-my-request, undici, express, prom-client, ...). The import
 * happens in the code that resolves the option or makes the call, never when a gatehouse entry is imported;
 * types come through `import type`, which costs nothing at run time.
 *
 * - `loadNow` is for a synchronous path (a constructor, a getter): `require()` of the package, which Node 22.12+
 *   also allows for ES modules without top-level await.
 * - An asynchronous path uses `await import('pkg')` directly.
 */
import type * as Crypto from 'node:crypto';
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as Net from 'node:net';

const requireHere = createRequire(import.meta.url);
const loaded = new Map<string, unknown>();

/**
 * The package `name`, loaded on the first call (synchronously) and cached.
 * @example
 * ```ts
 * const promClient = loadNow<typeof import('prom-client')>('prom-client');
 * ```
 */
export function loadNow<T>(name: string): T {
  let mod = loaded.get(name);
  if (mod === undefined) {
    // Loaded from its real path, so the package's own dependencies resolve beside it even where the package is a
    // symlink that a require hook does not resolve (pnpm's layout, or tsx's require hook on Node 22).
    mod = requireHere(name.startsWith('node:') ? name : realpathSync(requireHere.resolve(name))) as unknown;
    loaded.set(name, mod);
  }
  return mod as T;
}

/** node:crypto, required on first use: importing it costs a cold start about 3 ms, and most importers never call it. */
export const nodeCrypto = (): typeof Crypto => loadNow<typeof Crypto>('node:crypto');

/** node:net, required on first use (the client's address policy, the portal's client address). */
export const nodeNet = (): typeof Net => loadNow<typeof Net>('node:net');
