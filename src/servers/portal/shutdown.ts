import type { Lifecycle } from '../../lifecycle/index.js';
import { flushLogger, type Logger } from '../../logger.js';
import type { Realtime } from '../realtime/index.js';
import type { RequestEntry } from './entry.js';
import type { PortalServer } from './http-server.js';
import { closeStores, type PortalStores } from './stores.js';

/** What a portal closes, in the order it closes them. */
export interface ShutdownParts {
  /** The portal's name, for the closing line. */
  name: string;
  log: Logger;
  lifecycle: Lifecycle;
  entry: RequestEntry;
  http: PortalServer;
  /** The probes server: it answers (`/ready` 503) while the main server drains, and closes last. */
  probes: PortalServer | undefined;
  /** Stop the overload sampler and the startup-check retries. */
  stopMonitors: () => void;
  realtime: Realtime | undefined;
  /** The server-sent event streams, when a stream route was registered. */
  streams: { close(): Promise<void> } | undefined;
  /** The `onClose` resources, in registration order (emptied here). */
  closables: Array<() => unknown>;
  stores: PortalStores;
  /** Called once the http server has closed (removes the signal handlers). */
  afterServerClosed?: () => void;
}

/**
 * Close a portal gracefully, in order: end the event streams; stop accepting (HTTP connections and socket handshakes); let in-flight
 * requests finish (up to `timeoutMs`) while socket delivery and `onClose` resources still work; run the `onClose`
 * hooks; close realtime and the http server; close the lifecycle and the stores; flush the logs. Each step is
 * guarded: one failure is logged and never skips the rest.
 */
export async function shutdownPortal(p: ShutdownParts, timeoutMs: number): Promise<void> {
  const step = async (what: string, run: () => unknown): Promise<void> => {
    try {
      await run();
    } catch (err) {
      p.log.error({ err }, `close: ${what} failed`);
    }
  };
  // A portal that never listened has no /ready to turn to 503 and no traffic to stop: its close() only releases.
  const served = p.http.listening;
  // 0. End every server-sent event stream (`event: close`): they would otherwise hold the drain until its timeout.
  await step('ending the streams', () => p.streams?.close());
  // 1. Stop accepting.
  if (served) await step('decommissioning the lifecycle', () => p.lifecycle.decommission());
  await step('stopping new connections', () => {
    p.entry.startDraining();
    p.realtime?.stopAccepting();
    p.http.stopAccepting();
  });
  // 2. Drain in-flight requests; sockets stay connected so handlers can still deliver to them.
  await step('draining in-flight requests', () => p.http.drain(timeoutMs, p.log));
  // 3. The user's resources (buffers, queues, databases), in reverse registration order.
  for (const close of p.closables.splice(0).reverse()) await step('a registered resource (onClose)', close);
  // 4. Realtime: disconnect the sockets, which lets the http server finish closing.
  await step('closing realtime', () => p.realtime?.close());
  await step('closing the http server', () => p.http.close());
  await step('closing the probes server', async () => {
    p.probes?.stopAccepting();
    await p.probes?.close();
  });
  p.stopMonitors();
  p.afterServerClosed?.();
  // 5. Stores: the lifecycle (and its source), then the gate stores.
  await step('closing the lifecycle', () => p.lifecycle.close());
  await step('closing the stores', () => closeStores(p.stores, p.log));
  if (served) p.log.info(`${p.name} closed`);
  // Last: buffered log lines (request logs are written asynchronously) reach their destination.
  await step('flushing the logs', () => flushLogger(p.log));
}
