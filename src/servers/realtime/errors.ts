import { CodedError, type CodedErrorOptions, type ErrorTable } from '../../errors.js';

/** The realtime layer's errors (handshake refusals, event acks, group limits): code, status and title. */
export const REALTIME_ERRORS = {
  /** A `websocket` option, an event registration or an event name is invalid, or realtime is off. */
  ERR_REALTIME_OPTIONS: { status: 400, title: 'Invalid realtime option' },
  ERR_REALTIME_CLOSED: { status: 503, title: 'Realtime is closed' },
  ERR_UNKNOWN_EVENT: { status: 404, title: 'Unknown event' },
  ERR_RATE_LIMITED: { status: 429, title: 'Too many events' },
  // 400 when raised without a status (the error-shape contract); joinGroup raises it as 429.
  ERR_GROUP_LIMIT: { status: 400, title: 'Too many groups' },
  ERR_GROUP_NAME: { status: 400, title: 'Invalid group or user name' },
  ERR_AUTH_SUBJECT: { status: 403, title: 'Token of another user' },
  ERR_ORIGIN: { status: 403, title: 'Origin not allowed' },
  /** One identity already has `maxSocketsPerUser` sockets open. */
  ERR_SOCKET_LIMIT: { status: 429, title: 'Too many sockets' },
  ERR_INTERNAL: { status: 500, title: 'Internal error' },
} as const satisfies ErrorTable<string>;

/** Codes of the realtime layer. */
export type RealtimeErrorCode = keyof typeof REALTIME_ERRORS;

/** A realtime failure: bad options, a refused event, a group limit. */
export class RealtimeError extends CodedError<RealtimeErrorCode> {
  constructor(message: string, options: CodedErrorOptions<RealtimeErrorCode>) {
    super(message, options, REALTIME_ERRORS);
  }
}
