import type { Logger } from '../../logger.js';
import type { GateServices } from '../gates/index.js';
import type { Identity } from '../pipeline/index.js';
import { DISCONNECT_NOTICE, USER_PREFIX } from './names.js';
import type { ResolvedRealtimeOptions } from './options.js';
import type { RealtimeHost, RealtimeSocket, SharedBudget, SocketState } from './types.js';

const MAX_TIMER_MS = 2 ** 31 - 1;

function budgetKey(identity: Identity | null, ip: string): string {
  return identity ? `${identity.via}:${identity.id}` : `ip:${ip}`;
}

/** A fresh state for a socket that is passing its handshake. */
export function newSocketState(socket: RealtimeSocket, ip: string): SocketState {
  return {
    socket,
    ip,
    token: undefined,
    revocationKey: undefined,
    expiresAtMs: Infinity,
    expiryTimer: undefined,
    windowStart: 0,
    windowCount: 0,
    abusiveWindows: 0,
    windowRejected: false,
    seq: 0,
    budget: undefined,
  };
}

/**
 * The sockets connected to this instance: their state, the event budget each identity shares across its
 * sockets, the index by revocation key, expiry timers, and the fixed one-second event windows.
 */
export class SocketRegistry {
  private readonly states = new Map<string, SocketState>();
  /** Event budgets per identity (or anonymous address), while it has sockets. */
  private readonly budgets = new Map<string, SharedBudget>();
  /** Sockets that passed the handshake but have not connected yet (a WeakMap, so an abandoned one leaks nothing). */
  private readonly pending = new WeakMap<RealtimeSocket, SocketState>();
  private readonly byRevocationKey = new Map<string, Set<SocketState>>();

  constructor(
    private readonly options: Readonly<ResolvedRealtimeOptions>,
    private readonly gates: GateServices,
    private readonly log: Logger,
    private readonly observer: RealtimeHost['observer'],
  ) {}

  /** Number of sockets connected to this instance. */
  get size(): number {
    return this.states.size;
  }

  /** The state of a connected socket. */
  get(socketId: string): SocketState | undefined {
    return this.states.get(socketId);
  }

  /** Whether a socket is still connected here. */
  has(socketId: string): boolean {
    return this.states.has(socketId);
  }

  /** Sockets an identity holds open here. */
  socketsOf(identity: Identity, ip: string): number {
    return this.budgets.get(budgetKey(identity, ip))?.sockets ?? 0;
  }

  /** Keep the state of a socket that passed its handshake until it connects. */
  hold(socket: RealtimeSocket, state: SocketState): void {
    this.pending.set(socket, state);
  }

  /**
   * A socket that passed its handshake connected: it joins its identity's budget and `user:<id>` room and is
   * tracked for revocation and expiry. Returns its state, or `undefined` when it was refused and disconnected.
   */
  connect(socket: RealtimeSocket, closing: boolean): SocketState | undefined {
    const state = this.pending.get(socket);
    this.pending.delete(socket);
    if (!state || closing) {
      socket.disconnect(true);
      return undefined;
    }
    const identity = socket.data.identity;
    const key = budgetKey(identity, state.ip);
    let budget = this.budgets.get(key);
    // Handshakes of one user can race past the handshake check: the count taken here is the one that holds.
    if (identity && budget && budget.sockets >= this.options.maxSocketsPerUser) {
      socket.emit(DISCONNECT_NOTICE, {
        code: 'ERR_SOCKET_LIMIT',
        message: `At most ${this.options.maxSocketsPerUser} sockets per user`,
      });
      socket.disconnect(true);
      return undefined;
    }
    if (!budget) this.budgets.set(key, (budget = { key, windowStart: 0, windowCount: 0, sockets: 0 }));
    budget.sockets++;
    state.budget = budget;
    this.states.set(socket.id, state);
    this.observer?.socketConnected();
    if (identity) void socket.join(USER_PREFIX + identity.id);
    if (state.revocationKey !== undefined) {
      // Revoked between verification and now: drop it at once.
      if (this.gates.revocations.has(state.revocationKey)) {
        this.kick(state, 'ERR_AUTH_REVOKED', 'The token has been revoked');
        return undefined;
      }
      this.track(state);
    }
    socket.on('disconnect', () => this.forget(state));
    return state;
  }

  /** Disconnect every socket of a revoked token. */
  revoked(key: string): void {
    const set = this.byRevocationKey.get(key);
    if (!set) return;
    for (const state of [...set]) this.kick(state, 'ERR_AUTH_REVOKED', 'The token has been revoked');
  }

  /** Tell the client why, then disconnect it. */
  kick(state: SocketState, code: string, message: string): void {
    this.forget(state);
    const socket = state.socket;
    if (!socket.connected) return;
    socket.emit(DISCONNECT_NOTICE, { code, message });
    socket.disconnect(true);
  }

  /** Index the socket under its token's revocation key and arm its expiry timer. */
  track(state: SocketState): void {
    if (state.revocationKey === undefined) return;
    let set = this.byRevocationKey.get(state.revocationKey);
    if (!set) this.byRevocationKey.set(state.revocationKey, (set = new Set()));
    set.add(state);
    this.scheduleExpiry(state);
  }

  /** Undo {@link track}: before the socket's token changes, or when it goes. */
  untrack(state: SocketState): void {
    clearTimeout(state.expiryTimer);
    state.expiryTimer = undefined;
    if (state.revocationKey === undefined) return;
    const set = this.byRevocationKey.get(state.revocationKey);
    if (set) {
      set.delete(state);
      if (set.size === 0) this.byRevocationKey.delete(state.revocationKey);
    }
  }

  /** Fixed one-second windows per socket and per identity; repeated abuse ends the connection. */
  withinRate(state: SocketState): boolean {
    const now = Date.now();
    if (now - state.windowStart >= 1000) {
      // A streak of rate-limited windows continues only into the window right after; a quiet second resets it.
      if (!state.windowRejected || now - state.windowStart >= 2000) state.abusiveWindows = 0;
      state.windowStart = now;
      state.windowCount = 0;
      state.windowRejected = false;
    }
    if (++state.windowCount <= this.options.eventsPerSecond && this.withinSharedBudget(state.budget, now)) return true;
    if (!state.windowRejected) {
      state.windowRejected = true;
      state.abusiveWindows++;
      if (state.abusiveWindows >= this.options.rateLimitDisconnectAfterSec) {
        this.log.warn(
          { socketId: state.socket.id, ip: state.ip, identity: state.socket.data.identity?.id ?? null },
          'realtime: disconnecting a socket that keeps exceeding its event rate',
        );
        setImmediate(() => this.kick(state, 'ERR_RATE_LIMITED', 'Too many events for too long'));
      }
    }
    return false;
  }

  /** Forget every socket (their timers included), for shutdown. */
  clear(): void {
    for (const state of this.states.values()) clearTimeout(state.expiryTimer);
    this.states.clear();
    this.byRevocationKey.clear();
  }

  /** The identity's budget across its sockets, in the same fixed one-second windows. */
  private withinSharedBudget(budget: SharedBudget | undefined, now: number): boolean {
    if (!budget) return true;
    if (now - budget.windowStart >= 1000) {
      budget.windowStart = now;
      budget.windowCount = 0;
    }
    return ++budget.windowCount <= this.options.eventsPerSecondPerUser;
  }

  private scheduleExpiry(state: SocketState): void {
    const wait = state.expiresAtMs - Date.now();
    if (wait <= 0) {
      this.kick(state, 'ERR_AUTH_EXPIRED', 'The token has expired');
      return;
    }
    state.expiryTimer = setTimeout(() => this.scheduleExpiry(state), Math.min(wait, MAX_TIMER_MS));
    state.expiryTimer.unref();
  }

  private forget(state: SocketState): void {
    this.untrack(state);
    this.states.delete(state.socket.id);
    const budget = state.budget;
    if (budget) {
      state.budget = undefined; // forget runs on kick and again on disconnect: release once
      if (--budget.sockets <= 0 && this.budgets.get(budget.key) === budget) this.budgets.delete(budget.key);
    }
  }
}
