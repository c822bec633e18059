export { Realtime, DISCONNECT_NOTICE, REFRESH_EVENT } from './realtime.js';
export type {
  EventConfig,
  EventContext,
  EventErrorAck,
  EventHandler,
  RealtimeServer,
  RealtimeSocket,
  RealtimeSocketData,
} from './realtime.js';
export { RealtimeError } from './errors.js';
export type { RealtimeErrorCode } from './errors.js';
export type { RealtimeAdapter, RealtimeOptions } from './options.js';
