import { RealtimeError } from './errors.js';
import type { EventErrorAck } from './types.js';

/** Client-side event announcing why the server is about to disconnect the socket: `{ code, message }`. */
export const DISCONNECT_NOTICE = 'gatehouse:disconnect';

/**
 * Client-side event to swap the socket's token for a fresh one of the same user without reconnecting:
 * `socket.emitWithAck('gatehouse:auth', { token })` acks `{ ok: true, expiresAtMs }` or `{ error }`.
 */
export const REFRESH_EVENT = 'gatehouse:auth';

/** Event names Socket.IO or gatehouse use themselves: never registered, never sent. */
export const RESERVED_EVENTS: ReadonlySet<string> = new Set([
  REFRESH_EVENT,
  'connect',
  'connect_error',
  'disconnect',
  'disconnecting',
  'error',
  'newListener',
  'removeListener',
  'removeAllListeners',
  DISCONNECT_NOTICE,
]);
/** Longest event, group or user name. */
export const MAX_NAME_LENGTH = 128;
/** Room of every socket of one user. */
export const USER_PREFIX = 'user:';
/** Room of a group. */
export const GROUP_PREFIX = 'group:';

/** A group or user name, checked. */
export function checkName(kind: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NAME_LENGTH) {
    throw new RealtimeError(`${kind} must be a string of 1-${MAX_NAME_LENGTH} characters`, { code: 'ERR_GROUP_NAME' });
  }
  return value;
}

/** An event name to send, checked. */
export function checkEvent(event: unknown): string {
  if (typeof event !== 'string' || event.length === 0 || event.length > MAX_NAME_LENGTH) {
    throw new RealtimeError(`event name must be a string of 1-${MAX_NAME_LENGTH} characters`, {
      code: 'ERR_REALTIME_OPTIONS',
    });
  }
  if (RESERVED_EVENTS.has(event))
    throw new RealtimeError(`"${event}" is a reserved event name`, { code: 'ERR_REALTIME_OPTIONS' });
  return event;
}

/** The ack of a refused or failed event. */
export function errorAck(code: string, message: string, retryAfterSec?: number): EventErrorAck {
  const ack: EventErrorAck = { error: { code, message } };
  if (retryAfterSec !== undefined) ack.error.retryAfterSec = retryAfterSec;
  return ack;
}
