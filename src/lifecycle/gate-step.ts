import type { ServiceUnavailableError } from './errors.js';
import type { Lifecycle, LifecycleGateStep, LifecycleRouteMode } from './lifecycle.js';
import type { LifecycleState } from './states.js';

/**
 * The lifecycle step for a route or socket event: `'gated'` refuses while not ACTIVE, `'forced'` always refuses,
 * `'exempt'` has none (`undefined`). Plug it in as the first gate step.
 */
export function lifecycleStep(lifecycle: Lifecycle, mode: LifecycleRouteMode = 'gated'): LifecycleGateStep | undefined {
  return lifecycle.gateStep(mode);
}

/**
 * The error a gated call gets for a state (default: the current one), or `undefined` while ACTIVE. For sockets:
 * send `{ error: { code: err.code, message: err.message } }` (code `SERVICE_PAUSED`, `SERVICE_MAINTENANCE`, ...).
 */
export function lifecycleProblem(lifecycle: Lifecycle, state?: LifecycleState): ServiceUnavailableError | undefined {
  return lifecycle.problem(state);
}
