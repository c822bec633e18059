import { Lifecycle, RemoteLifecycleSource, type LifecycleSource } from '../../lifecycle/index.js';
import { HealthBoard } from '../../lifecycle/internal.js';
import type { Logger } from '../../logger.js';
import { createGateServices, type GateServices } from '../gates/index.js';
import type { ResolvedPortalOptions } from './options.js';
import { shedFirst, type OverloadMonitor } from './overload.js';
import { closeStores, createStores, redisStatusCheck, type PortalStores } from './stores.js';

/** The parts every request path of a portal stands on: its stores, its lifecycle, its gate services. */
export interface PortalCore {
  stores: PortalStores;
  lifecycle: Lifecycle;
  gates: GateServices;
  board: HealthBoard;
}

/**
 * Open a portal's core from its options: the stores (chosen in one place), the lifecycle on its source (its step,
 * behind the overload check, goes into every gate), the gate services, and the status board with the fleet's own checks (Redis, remote
 * control). Whatever was opened is closed again when a later part fails.
 */
export function openCore(
  options: ResolvedPortalOptions,
  log: Logger,
  overload: OverloadMonitor | undefined,
): PortalCore {
  const stores = createStores(options, log);
  let lifecycle: Lifecycle | undefined;
  let gates: GateServices;
  try {
    lifecycle = new Lifecycle({
      dataDir: options.dataDir,
      logger: log,
      name: options.name,
      ...options.lifecycle,
      source: stores.lifecycleSource,
    });
    const live = lifecycle;
    gates = createGateServices({
      name: options.name,
      dataDir: options.dataDir,
      auth: options.auth,
      cors: options.cors,
      revocations: stores.revocations,
      rateLimitStore: stores.rateLimits,
      idempotencyStore: stores.idempotency,
      lifecycleStep: (mode) => shedFirst(overload, mode, live.gateStep(mode)),
      log,
    });
  } catch (err) {
    void (lifecycle ? lifecycle.close() : stores.lifecycleSource.close?.());
    void closeStores(stores, log);
    throw err;
  }
  const board = new HealthBoard(lifecycle, {
    name: options.name,
    logger: log,
    checkTimeoutMs: options.health.checkTimeoutMs,
  });
  if (stores.redis) board.addCheck('redis', redisStatusCheck(stores.redis));
  const source: LifecycleSource = stores.lifecycleSource;
  if (source instanceof RemoteLifecycleSource) board.addCheck('remote', () => source.control.health());
  return { stores, lifecycle, gates, board };
}
