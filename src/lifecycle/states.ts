import type { ServiceUnavailableCode } from './errors.js';

/** The lifecycle states of a service. ACTIVE serves traffic; every other state gates it. */
export const LIFECYCLE_STATES = ['ACTIVE', 'PAUSED', 'MAINTENANCE', 'OFFLINE', 'FAILED'] as const;

/** One lifecycle state. */
export type LifecycleState = (typeof LIFECYCLE_STATES)[number];

/** A state that gates traffic (everything but ACTIVE). */
export type InactiveState = Exclude<LifecycleState, 'ACTIVE'>;

/** The problem `code` a gated route answers with, per non-ACTIVE state. */
export const LIFECYCLE_CODES: Readonly<Record<InactiveState, ServiceUnavailableCode>> = Object.freeze({
  PAUSED: 'SERVICE_PAUSED',
  MAINTENANCE: 'SERVICE_MAINTENANCE',
  OFFLINE: 'SERVICE_OFFLINE',
  FAILED: 'SERVICE_FAILED',
});

/** Default client-facing messages, per non-ACTIVE state. */
export const DEFAULT_MESSAGES: Readonly<Record<InactiveState, string>> = Object.freeze({
  PAUSED: 'The service is paused. Please try again later.',
  MAINTENANCE: 'The service is down for maintenance. Please try again later.',
  OFFLINE: 'The service is offline. Please try again later.',
  FAILED: 'The service is unavailable because of a failure. Please try again later.',
});

const STATE_SET: ReadonlySet<string> = new Set(LIFECYCLE_STATES);

/** Whether a value names a lifecycle state (exact, upper case). */
export function isLifecycleState(value: unknown): value is LifecycleState {
  return typeof value === 'string' && STATE_SET.has(value);
}

/** What a source stores: the state and what clients are told while it lasts. */
export interface LifecycleRecord {
  /** The state. */
  state: LifecycleState;
  /** Message sent to clients while not ACTIVE; `undefined` uses the state's default message. */
  message?: string | undefined;
  /** Seconds sent as `Retry-After` while not ACTIVE; `undefined` uses the configured default. */
  retryAfterSec?: number | undefined;
  /** When the state was set (epoch ms). */
  updatedAt?: number | undefined;
  /** Who set it (e.g. `pid 123@host`, `cli`), when the source records it. */
  updatedBy?: string | undefined;
}

/** Largest accepted message, in characters. */
export const MAX_MESSAGE_LENGTH = 1000;
/** Largest accepted `retryAfterSec` (7 days). */
export const MAX_RETRY_AFTER_SEC = 604_800;

/**
 * Check a requested change; returns a readable reason when it is not acceptable, else `undefined`.
 * Shared by `Lifecycle.set`, the admin endpoint and the CLI so all three refuse the same inputs.
 */
export function validateRecord(state: unknown, message: unknown, retryAfterSec: unknown): string | undefined {
  if (!isLifecycleState(state))
    return `unknown lifecycle state ${JSON.stringify(state)} (expected one of ${LIFECYCLE_STATES.join(', ')})`;
  if (message !== undefined && (typeof message !== 'string' || message.length > MAX_MESSAGE_LENGTH)) {
    return `message must be a string of at most ${MAX_MESSAGE_LENGTH} characters`;
  }
  if (
    retryAfterSec !== undefined &&
    (typeof retryAfterSec !== 'number' ||
      !Number.isInteger(retryAfterSec) ||
      retryAfterSec < 0 ||
      retryAfterSec > MAX_RETRY_AFTER_SEC)
  ) {
    return `retryAfterSec must be a whole number of seconds from 0 to ${MAX_RETRY_AFTER_SEC}, got ${String(retryAfterSec)}`;
  }
  return undefined;
}
