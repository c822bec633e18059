import type { LifecycleState } from '../states.js';
import type { RemoteUpdateInfo } from './version-check.js';

/** Told about every change of the effective state, once. */
export type RemoteStatusListener = (next: LifecycleState, prev: LifecycleState) => void;

/**
 * Events of {@link RemoteControl} (the stock PXControl Node SDK's names), each with its listener's arguments.
 * Listeners that throw are logged, never propagated; `error` never throws when nobody listens.
 */
export interface RemoteControlEvents {
  /** The socket is open. */
  connected: [];
  /** The socket closed (it reconnects unless the close was terminal). */
  disconnected: [info: { code: number; reason: string }];
  /** The effective state changed. */
  status: [next: LifecycleState, prev: LifecycleState];
  /** The token was revoked (frame or close code 4001/4002): OFFLINE, no more reconnects. */
  revoked: [reason: string];
  /** The server sent an `error` frame. */
  serverError: [error: { code: string; message: string }];
  /** A connection attempt failed (it will be retried). */
  error: [error: Error];
  /** The HTTP poll fallback started. */
  'poll-started': [];
  /** The HTTP poll fallback stopped (the socket is back). */
  'poll-stopped': [];
  /** The version catalogue lists a newer version than this gatehouse. */
  'update-available': [info: RemoteUpdateInfo];
}

/** The name of one {@link RemoteControlEvents} event. */
export type RemoteControlEvent = keyof RemoteControlEvents;

/** A listener of one {@link RemoteControlEvents} event. */
export type Listener<E extends RemoteControlEvent> = (...args: RemoteControlEvents[E]) => void;
