export { Realtime } from './realtime.js';
export { DISCONNECT_NOTICE, REFRESH_EVENT } from './names.js';
export type {
  EventConfig,
  EventContext,
  EventErrorAck,
  EventHandler,
  RealtimeServer,
  RealtimeSocket,
  RealtimeSocketData,
} from './types.js';
export { RealtimeError, REALTIME_ERRORS } from './errors.js';
export type { RealtimeErrorCode } from './errors.js';
export type { RealtimeAdapter, RealtimeOptions } from './options.js';
