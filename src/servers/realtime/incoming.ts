import type { Logger } from '../../logger.js';
import { AuthError, type GateServices } from '../gates/index.js';
import { stripForbiddenKeys } from '../pipeline/index.js';
import { RealtimeError } from './errors.js';
import { SocketCall, toErrorAck, type EventEntry } from './events.js';
import { MAX_NAME_LENGTH, REFRESH_EVENT, USER_PREFIX, errorAck } from './names.js';
import type { ResolvedRealtimeOptions } from './options.js';
import type { SocketRegistry } from './sockets.js';
import type { RealtimeHost, SocketState } from './types.js';

/** What incoming events need from the realtime layer. */
export interface IncomingDeps {
  gates: GateServices;
  options: Readonly<ResolvedRealtimeOptions>;
  registry: SocketRegistry;
  events: ReadonlyMap<string, EventEntry>;
  log: Logger;
  observer: RealtimeHost['observer'];
}

/**
 * Every packet a connected socket sends: the event rate, forbidden keys stripped, the token refresh event,
 * revocation and expiry checked again, then the event's pipeline, whose result (or error) is the ack.
 */
export class Incoming {
  constructor(private readonly deps: IncomingDeps) {}

  /** Socket.IO middleware of one socket (`socket.use`). */
  onPacket(state: SocketState, packet: unknown[], next: (err?: Error) => void): void {
    const { registry, options, log } = this.deps;
    const name = packet[0];
    const last = packet.length > 1 ? packet[packet.length - 1] : undefined;
    const ack = typeof last === 'function' ? (last as (...args: unknown[]) => void) : undefined;
    if (!registry.withinRate(state)) {
      ack?.(errorAck('ERR_RATE_LIMITED', `Too many events: at most ${options.eventsPerSecond} per second`, 1));
      return;
    }
    // Every argument, before any listener (ours or one attached through portal.io) sees it.
    const argEnd = ack ? packet.length - 1 : packet.length;
    for (let i = 1; i < argEnd; i++) stripForbiddenKeys(packet[i]);
    if (name === REFRESH_EVENT) {
      this.refresh(state, packet.length > (ack ? 2 : 1) ? packet[1] : undefined).then(
        (result) => ack?.(result),
        (err: unknown) =>
          ack?.(toErrorAck(err, new SocketCall(REFRESH_EVENT, `${state.socket.id}:auth`, state, undefined), log)),
      );
      return;
    }
    const entry = typeof name === 'string' ? this.deps.events.get(name) : undefined;
    this.deps.observer?.socketEvent(entry ? (name as string) : undefined);
    if (!entry) {
      // Not ours: let listeners attached through `portal.io` have it, and answer an ack nobody would.
      if (typeof name === 'string' && state.socket.listeners(name).length > 0) {
        next();
        return;
      }
      ack?.(
        errorAck(
          'ERR_UNKNOWN_EVENT',
          `No handler for event ${typeof name === 'string' ? JSON.stringify(name.slice(0, MAX_NAME_LENGTH)) : '(invalid)'}`,
        ),
      );
      return;
    }
    // Checked per event too, so a revocation from another process is honoured before its sync reaches us.
    if (state.revocationKey !== undefined) {
      if (this.deps.gates.revocations.has(state.revocationKey)) {
        ack?.(errorAck('ERR_AUTH_REVOKED', 'The token has been revoked'));
        registry.kick(state, 'ERR_AUTH_REVOKED', 'The token has been revoked');
        return;
      }
      if (state.expiresAtMs <= Date.now()) {
        ack?.(errorAck('ERR_AUTH_EXPIRED', 'The token has expired'));
        registry.kick(state, 'ERR_AUTH_EXPIRED', 'The token has expired');
        return;
      }
    }
    const payloadCount = ack ? packet.length - 2 : packet.length - 1;
    const payload = payloadCount > 0 ? packet[1] : undefined;
    state.seq++;
    const call = new SocketCall(name as string, `${state.socket.id}:${state.seq}`, state, payload);
    entry.pipeline(call).then(
      () => ack?.(call.result === undefined ? null : call.result),
      (err: unknown) => ack?.(toErrorAck(err, call, log)),
    );
  }

  /** Swap a socket's token for a fresh one of the same identity: new expiry, new revocation key, new scopes. */
  private async refresh(state: SocketState, payload: unknown): Promise<{ ok: true; expiresAtMs: number }> {
    const { gates, registry } = this.deps;
    const token = payload !== null && typeof payload === 'object' ? (payload as { token?: unknown }).token : undefined;
    if (typeof token !== 'string' || token.length === 0)
      throw new AuthError(`${REFRESH_EVENT} needs { token }`, { code: 'ERR_AUTH_MISSING' });
    const identity = await gates.tokens.verifyAccess(token);
    const current = state.socket.data.identity;
    if (current && (current.via !== 'bearer' || current.id !== identity.id)) {
      throw new RealtimeError('The new token must belong to the same user', { code: 'ERR_AUTH_SUBJECT', status: 403 });
    }
    if (!state.socket.connected || !registry.has(state.socket.id))
      throw new RealtimeError('The socket is gone', { code: 'ERR_REALTIME_CLOSED', status: 410 });
    const { key, expiresAtMs } = gates.tokens.revocationOf(token);
    registry.untrack(state);
    state.token = token;
    state.revocationKey = key;
    state.expiresAtMs = expiresAtMs;
    state.socket.data.identity = identity;
    registry.track(state);
    if (!current) await state.socket.join(USER_PREFIX + identity.id);
    return { ok: true, expiresAtMs };
  }
}
