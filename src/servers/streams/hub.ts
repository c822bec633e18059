import type { ServerResponse } from 'node:http';
import { nodeCrypto } from '../../load.js';
import type { Logger } from '../../logger.js';
import type { GatehouseError } from '../../errors.js';
import type { GateServices } from '../gates/index.js';
import type { GateCall, GateStep, Identity } from '../pipeline/index.js';
import type { FanoutMessage, StreamFanout } from './fanout.js';
import { StreamError } from './errors.js';
import type { ResolvedStreamLimits } from './limits.js';
import { checkStreamEvent, checkStreamName } from './names.js';
import { SseStream, type StreamHost } from './sse-stream.js';

/** What opening a stream on a connection needs from its route. */
export interface OpenSpec {
  route: string;
  limits: ResolvedStreamLimits;
  /** The route's lifecycle step, re-run when the lifecycle changes (undefined: `exempt`). */
  admit: GateStep | undefined;
}

/** The outcome of opening: the stream and whether it resumed an earlier connection; `undefined` when answered 204. */
export interface Opened {
  stream: SseStream;
  resumed: boolean;
}

/** A lifecycle that says when it changes. */
export interface LifecycleWatch {
  onChange(listener: () => void): () => void;
}

// The lifecycle step reads only the lifecycle's state, never the call.
const NO_CALL = Object.freeze({}) as GateCall;

function add<K>(index: Map<K, Set<SseStream>>, key: K, stream: SseStream): void {
  let set = index.get(key);
  if (!set) index.set(key, (set = new Set()));
  set.add(stream);
}

function remove<K>(index: Map<K, Set<SseStream>>, key: K, stream: SseStream): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(stream);
  if (set.size === 0) index.delete(key);
}

/**
 * Every stream of a portal: indexed by id (for `Last-Event-ID`), user, group and token revocation key. Delivers
 * `sendToUser` / `sendToGroup` / `broadcast` to its streams (the data serialised once per message) and, with a
 * fan-out, to every other instance's; ends streams whose token is revoked or expires, whose route the lifecycle
 * now gates, and all of them on `close()`.
 */
export class StreamHub implements StreamHost {
  readonly log: Logger;
  private readonly streams = new Map<string, SseStream>();
  private readonly users = new Map<string, Set<SseStream>>();
  private readonly groups = new Map<string, Set<SseStream>>();
  private readonly keys = new Map<string, Set<SseStream>>();
  /** Streams ended on purpose, remembered for a while so a reconnect is told 204 (stop). */
  private readonly endedIds = new Map<string, number>();
  private fanout: StreamFanout | undefined;
  private readonly unsubscribe: Array<() => void> = [];
  private closing: Promise<void> | undefined;

  constructor(
    private readonly gates: GateServices,
    lifecycle: LifecycleWatch,
    log: Logger,
  ) {
    this.log = log.child({ component: 'streams' });
    this.unsubscribe.push(gates.revocations.onRevoke((key) => this.revoked(key)));
    this.unsubscribe.push(lifecycle.onChange(() => this.recheckLifecycle()));
  }

  /** Streams held by this instance (connected or waiting for a reconnect). */
  get size(): number {
    return this.streams.size;
  }

  /** Streams with a connection attached now. */
  get connectedCount(): number {
    let n = 0;
    for (const s of this.streams.values()) if (s.connected) n++;
    return n;
  }

  /** Deliver to the streams of other instances through `fanout` (the realtime adapter's channels). */
  useFanout(fanout: StreamFanout): void {
    this.fanout = fanout;
  }

  /** Refuse event names a stream cannot carry, before anything is delivered. */
  checkEvent(event: string): void {
    checkStreamEvent(event);
  }

  /** Send to every stream of a user, on every instance. */
  sendToUser(userId: string, event: string, data?: unknown): void {
    this.publish({ to: 'user', name: checkStreamName('userId', userId), event: checkStreamEvent(event), data });
  }

  /** Send to every stream in a group, on every instance. */
  sendToGroup(group: string, event: string, data?: unknown): void {
    this.publish({ to: 'group', name: checkStreamName('group', group), event: checkStreamEvent(event), data });
  }

  /** Send to every stream, on every instance. */
  broadcast(event: string, data?: unknown): void {
    this.publish({ to: 'all', name: '', event: checkStreamEvent(event), data });
  }

  private publish(msg: FanoutMessage): void {
    this.deliver(msg);
    this.fanout?.publish(msg);
  }

  /** Deliver a message to this instance's streams (from here, or from another instance through the fan-out). */
  deliver(msg: FanoutMessage): void {
    if (this.closing) return;
    const targets =
      msg.to === 'all' ? this.streams.values() : (msg.to === 'user' ? this.users : this.groups).get(msg.name);
    if (!targets) return;
    const json = JSON.stringify(msg.data ?? null);
    for (const s of targets) s.push(msg.event, json);
  }

  /**
   * Open a stream on a connection whose gates passed: resume the stream its `Last-Event-ID` names (same route,
   * same identity) and replay what it missed, or start a new one (with `event: reset` when the id was unknown or
   * too much was missed). A stream that was ended on purpose is answered 204 so `EventSource` stops.
   * `writeHead` sends the 200 and the stream's headers once the stream is chosen.
   */
  open(
    res: ServerResponse,
    lastEventId: string | undefined,
    identity: Identity | null,
    token: string | undefined,
    spec: OpenSpec,
    writeHead: () => void,
  ): Opened | undefined {
    if (this.closing)
      throw new StreamError('The service is shutting down', { code: 'ERR_STREAM_SHUTDOWN', status: 503 });
    let stream: SseStream | undefined;
    let replayAfter: number | undefined;
    let reset: string | undefined;
    if (lastEventId) {
      const dash = lastEventId.lastIndexOf('-');
      const id = dash === -1 ? lastEventId : lastEventId.slice(0, dash);
      const seq = dash === -1 ? NaN : Number(lastEventId.slice(dash + 1));
      const until = this.endedIds.get(id);
      if (until !== undefined && until > Date.now()) {
        res.writeHead(204);
        res.end();
        return undefined;
      }
      const found = this.streams.get(id);
      if (found && !found.ended && found.route === spec.route && found.owner === (identity?.id ?? null)) {
        stream = found;
        if (found.canReplayAfter(seq)) replayAfter = seq;
        else reset = 'missed';
      } else reset = 'unknown';
    }
    const resumed = stream !== undefined;
    if (!stream) {
      stream = new SseStream(
        nodeCrypto().randomBytes(12).toString('base64url'),
        spec.route,
        identity,
        spec.limits,
        this,
      );
      this.streams.set(stream.id, stream);
      if (identity) add(this.users, identity.id, stream);
    }
    stream.admit = spec.admit;
    if (token !== undefined) {
      const { key, expiresAtMs } = this.gates.tokens.revocationOf(token);
      if (stream.revocationKey !== key) {
        if (stream.revocationKey !== undefined) remove(this.keys, stream.revocationKey, stream);
        stream.revocationKey = key;
        add(this.keys, key, stream);
      }
      stream.expireAt(expiresAtMs);
    }
    writeHead();
    stream.attach(res, replayAfter, reset);
    return { stream, resumed };
  }

  /** {@link StreamHost}: index a stream under a group. */
  group(stream: SseStream, group: string, joined: boolean): void {
    if (joined) add(this.groups, group, stream);
    else remove(this.groups, group, stream);
  }

  /** {@link StreamHost}: forget a stream. */
  dispose(stream: SseStream, ended: boolean): void {
    if (this.streams.get(stream.id) !== stream) return;
    this.streams.delete(stream.id);
    if (stream.owner !== null) remove(this.users, stream.owner, stream);
    for (const g of stream.groups) remove(this.groups, g, stream);
    if (stream.revocationKey !== undefined) remove(this.keys, stream.revocationKey, stream);
    if (ended && !this.closing) {
      const now = Date.now();
      // Remember ended ids for one resume window; prune the expired ones as new ones come.
      for (const [id, until] of this.endedIds) {
        if (until > now) break;
        this.endedIds.delete(id);
      }
      this.endedIds.set(stream.id, now + Math.max(stream.resumeWindowMs, 1000));
    }
  }

  private revoked(key: string): void {
    const set = this.keys.get(key);
    if (!set) return;
    for (const s of [...set]) s.end('ERR_AUTH_REVOKED', 'The token has been revoked');
  }

  private recheckLifecycle(): void {
    for (const s of [...this.streams.values()]) {
      if (!s.admit) continue;
      try {
        const r = s.admit(NO_CALL);
        if (r instanceof Promise) r.catch(() => undefined);
      } catch (err) {
        const e = err as GatehouseError;
        s.end(e.code ?? 'ERR_UNAVAILABLE', e.message);
      }
    }
  }

  /** End every stream (`event: close` with `ERR_STREAM_SHUTDOWN`) and stop listening. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const u of this.unsubscribe.splice(0)) u();
      for (const s of [...this.streams.values()]) s.end('ERR_STREAM_SHUTDOWN', 'The service is shutting down');
      this.streams.clear();
      this.users.clear();
      this.groups.clear();
      this.keys.clear();
      this.endedIds.clear();
      try {
        await this.fanout?.close();
      } catch (err) {
        this.log.warn({ err }, 'streams: closing the fan-out failed');
      }
    })();
    return this.closing;
  }
}
