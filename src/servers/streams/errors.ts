import { CodedError, type CodedErrorOptions, type ErrorTable } from '../../errors.js';

/** Errors of server-sent event streams: code, status and title. Codes also travel in an `event: close`. */
export const STREAM_ERRORS = {
  /** A `portal.stream()` registration or option is invalid (the message names it). */
  ERR_STREAM_OPTIONS: { status: 500, title: 'Invalid stream option' },
  /** An event or group name that a stream cannot carry. */
  ERR_STREAM_NAME: { status: 400, title: 'Invalid event or group name' },
  /** A stream already belongs to `maxGroups` groups. */
  ERR_STREAM_GROUP_LIMIT: { status: 429, title: 'Too many groups' },
  /** The reader fell more than `maxBufferedBytes` behind and was dropped. */
  ERR_STREAM_SLOW: { status: 503, title: 'Reader too slow' },
  /** The portal is closing. */
  ERR_STREAM_SHUTDOWN: { status: 503, title: 'Shutting down' },
  /** The handler closed the stream. */
  ERR_STREAM_CLOSED: { status: 410, title: 'Stream closed' },
} as const satisfies ErrorTable<string>;

/** Codes of server-sent event streams. */
export type StreamErrorCode = keyof typeof STREAM_ERRORS;

/** A stream failure: a bad registration, name or group limit. */
export class StreamError extends CodedError<StreamErrorCode> {
  constructor(message: string, options: CodedErrorOptions<StreamErrorCode>) {
    super(message, options, STREAM_ERRORS);
  }
}
