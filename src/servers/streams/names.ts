import { StreamError } from './errors.js';

/** Longest event or group name. */
export const MAX_NAME_LENGTH = 128;
/** Event names a stream sends itself. */
export const RESERVED_STREAM_EVENTS: ReadonlySet<string> = new Set(['close', 'reset']);

/** An event name a stream can carry: 1-128 characters, no line break, not `close` or `reset`. */
export function checkStreamEvent(event: unknown): string {
  if (typeof event !== 'string' || event.length === 0 || event.length > MAX_NAME_LENGTH || /[\r\n]/.test(event))
    throw new StreamError(`event name must be 1-${MAX_NAME_LENGTH} characters without line breaks`, {
      code: 'ERR_STREAM_NAME',
    });
  if (RESERVED_STREAM_EVENTS.has(event))
    throw new StreamError(`"${event}" is an event name streams use themselves`, { code: 'ERR_STREAM_NAME' });
  return event;
}

/** A group or user name: 1-128 characters. */
export function checkStreamName(kind: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NAME_LENGTH)
    throw new StreamError(`${kind} must be a string of 1-${MAX_NAME_LENGTH} characters`, { code: 'ERR_STREAM_NAME' });
  return value;
}
