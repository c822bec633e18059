import type * as SocketIo from 'socket.io';
import { loadNow } from '../../load.js';

/** One delivery for streams, as it travels between instances. */
export interface FanoutMessage {
  to: 'user' | 'group' | 'all';
  /** The user id or group name (`''` for `all`). */
  name: string;
  event: string;
  data: unknown;
}

/** Carries stream deliveries to the other instances of a fleet. */
export interface StreamFanout {
  publish(message: FanoutMessage): void;
  close(): Promise<void>;
}

/** The server-side event stream deliveries travel as between instances. */
export const FANOUT_EVENT = 'gatehouse:streams';

function isMessage(value: unknown): value is FanoutMessage {
  if (value === null || typeof value !== 'object') return false;
  const m = value as Partial<FanoutMessage>;
  return (
    (m.to === 'user' || m.to === 'group' || m.to === 'all') && typeof m.name === 'string' && typeof m.event === 'string'
  );
}

/**
 * Stream fan-out on the Socket.IO adapter the portal's realtime layer already uses (with `redis`: the
 * `@socket.io/redis-adapter` channels), as a server-side emit: no second pub/sub mechanism. `ownsServer` closes
 * the adapter too (a server made only for streams, see {@link streamOnlyServer}).
 */
export function adapterFanout(
  io: SocketIo.Server,
  deliver: (message: FanoutMessage) => void,
  ownsServer = false,
): StreamFanout {
  const listener = (message: unknown): void => {
    if (isMessage(message)) deliver(message);
  };
  io.on(FANOUT_EVENT, listener);
  return {
    publish: (message) => {
      io.serverSideEmit(FANOUT_EVENT, message);
    },
    close: async () => {
      io.off(FANOUT_EVENT, listener);
      if (ownsServer) await io.of('/').adapter.close();
    },
  };
}

/**
 * A Socket.IO server attached to no http server, only to carry stream deliveries on the fleet's adapter when
 * `websocket` is off (it serves no sockets).
 */
export function streamOnlyServer(adapter: NonNullable<Partial<SocketIo.ServerOptions>['adapter']>): SocketIo.Server {
  const { Server } = loadNow<typeof SocketIo>('socket.io');
  return new Server({ adapter, serveClient: false });
}
