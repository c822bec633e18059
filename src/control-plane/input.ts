/**
 * Checks of what callers pass to the ControlPlane's methods (project names, states, messages, fail modes,
 * actors): bad input is refused with `ERR_CONTROL_INPUT` before anything loads or changes.
 */
import { LIFECYCLE_STATES, isLifecycleState, type LifecycleState } from '../lifecycle/index.js';
import { ControlPlaneError } from './errors.js';
import type { FailMode } from './types.js';
import type { SetProjectStatusOptions } from './views.js';

/** Largest accepted message, in characters (the lifecycle's own limit). */
const MAX_MESSAGE = 1000;
/** Largest accepted `retryAfterSec` (7 days). */
const MAX_RETRY_AFTER = 604_800;
const PROJECT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** An `ERR_CONTROL_INPUT` error. */
export function inputError(message: string): ControlPlaneError {
  return new ControlPlaneError(message, { code: 'ERR_CONTROL_INPUT' });
}

/** A project name, or `ERR_CONTROL_INPUT`. */
export function checkName(name: unknown): string {
  if (typeof name !== 'string' || !PROJECT_NAME.test(name))
    throw inputError(
      `project name must be 1-64 letters, digits, dots, dashes or underscores (starting with a letter or digit), got ${JSON.stringify(name)}`,
    );
  return name;
}

/** A fail mode, or `ERR_CONTROL_INPUT`. */
export function checkFailMode(mode: unknown): FailMode {
  if (mode !== 'open' && mode !== 'closed')
    throw inputError(`failMode must be 'open' or 'closed', got ${JSON.stringify(mode)}`);
  return mode;
}

/** Who made a change (`'api'` when not given), or `ERR_CONTROL_INPUT`. */
export function checkActor(actor: unknown): string {
  if (actor === undefined) return 'api';
  if (typeof actor !== 'string' || actor.length === 0 || actor.length > 200)
    throw inputError('actor must be a string of 1 to 200 characters');
  return actor;
}

/** The state and options of a status change, or `ERR_CONTROL_INPUT`. */
export function checkStatusChange(state: unknown, options: SetProjectStatusOptions): LifecycleState {
  if (!isLifecycleState(state))
    throw inputError(`state must be one of ${LIFECYCLE_STATES.join(', ')}, got ${JSON.stringify(state)}`);
  const message = options.message;
  if (message !== undefined && message !== null && (typeof message !== 'string' || message.length > MAX_MESSAGE))
    throw inputError(`message must be a string of at most ${MAX_MESSAGE} characters`);
  const retry = options.retryAfterSec;
  if (
    retry !== undefined &&
    retry !== null &&
    (typeof retry !== 'number' || !Number.isInteger(retry) || retry < 0 || retry > MAX_RETRY_AFTER)
  ) {
    throw inputError(
      `retryAfterSec must be a whole number of seconds from 0 to ${MAX_RETRY_AFTER}, got ${String(retry)}`,
    );
  }
  return state;
}
