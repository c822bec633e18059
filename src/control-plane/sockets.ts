import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket, WebSocketServer } from 'ws';
import { loadNow } from '../load.js';
import type { Logger } from '../logger.js';
import {
  CLOSE_INVALID_TOKEN,
  CLOSE_REVOKED,
  errorFrame,
  fromUserAgent,
  parseClientMessage,
  revokedFrame,
} from './protocol.js';
import type { InstanceInfo } from './types.js';

/** What a token opens, as the control plane's cache answers. */
export type TokenLookup =
  | { kind: 'ok'; project: string; tokenHash: string; frame: Buffer }
  | { kind: 'revoked'; reason: string }
  | { kind: 'unknown' };

/** What the hub needs from the control plane. */
export interface SocketHubDeps {
  /** Resolve the token in a `/ws/{token}` path. */
  lookup(token: string): TokenLookup;
  /** Client address of the upgrade request (the portal's `trustProxy` setting). */
  clientIp(req: IncomingMessage): string;
  /** An instance connected, sent a heartbeat or went away (read it at once: the object changes with later heartbeats). */
  onInstance(instance: InstanceInfo, change: 'connected' | 'heartbeat' | 'disconnected'): void;
  /** Id of this control-plane process. */
  node: string;
  /** The interval clients heartbeat at, in ms: 3 of them without a word and the instance is stale. */
  heartbeatIntervalMs: number;
  /** How long a disconnected instance stays listed, in ms. */
  instanceRetentionMs: number;
  /** Largest accepted client frame, in bytes. */
  maxPayloadBytes: number;
  /** Most disconnected instances listed per project (more are counted, not kept). */
  maxDisconnectedInstances: number;
  /** Most open sockets per project token in this process. */
  maxSocketsPerToken: number;
  /** Each socket's message bucket: `burst` messages, refilled at `perSecond`. */
  messageBudget: { burst: number; perSecond: number };
  log: Logger;
}

/** Close code for a socket that sent an invalid frame or ran out of message budget (policy violation). */
export const CLOSE_POLICY = 1008;

interface Connection {
  ws: WebSocket;
  tokenHash: string;
  instance: InstanceInfo;
  /** Answered the last ping (or said anything) since. */
  alive: boolean;
  /** Messages left in the bucket, and when it was last refilled (performance.now()). */
  budget: number;
  refilledAt: number;
}

/**
 * The disconnected instances of one project, oldest first, at most the cap; instances pushed out by newer ones are
 * counted per minute so the count can fall as the retention passes.
 */
interface GoneList {
  byId: Map<string, InstanceInfo>;
  /** [minute (epoch ms / 60000), how many were pushed out in it]. */
  omitted: Array<[number, number]>;
}

/** Frames are JSON text: a Buffer would otherwise go out as a binary frame, which clients ignore. */
const TEXT = { binary: false } as const;

const WS_PATH = /^\/ws\/([^/?#]{1,256})\/?(?:[?#].*)?$/;

/**
 * The protocol's socket side: `/ws/{token}` upgrades on the control plane's http server (ws, noServer), one
 * set of sockets per project, status frames pushed to them, heartbeats turned into instances, and the close
 * codes 4001 (invalid token) and 4002 (revoked, after a `revoked` frame).
 */
export class SocketHub {
  private readonly wss: WebSocketServer;
  private readonly byProject = new Map<string, Set<Connection>>();
  /** Disconnected instances (this process's and other control planes'), per project, capped; kept until the retention passes. */
  private readonly gone = new Map<string, GoneList>();
  /** Connected instances held by other control-plane processes (Redis), by id. */
  private readonly remote = new Map<string, InstanceInfo>();
  /** Open sockets per token hash, for `maxSocketsPerToken`. */
  private readonly perToken = new Map<string, number>();
  private readonly pingTimer: NodeJS.Timeout;
  private readonly deps: SocketHubDeps;
  private accepting = true;

  constructor(deps: SocketHubDeps) {
    this.deps = deps;
    const { WebSocketServer: Server } = loadNow<{ WebSocketServer: typeof WebSocketServer }>('ws');
    this.wss = new Server({
      noServer: true,
      maxPayload: deps.maxPayloadBytes,
      perMessageDeflate: false,
      clientTracking: false,
    });
    // A dead TCP peer never heartbeats again: ping on the heartbeat interval and drop a socket that missed one.
    this.pingTimer = setInterval(() => this.sweep(), deps.heartbeatIntervalMs);
    this.pingTimer.unref();
  }

  /** Number of open protocol sockets in this process. */
  get size(): number {
    let n = 0;
    for (const set of this.byProject.values()) n += set.size;
    return n;
  }

  /** The http server's `upgrade` listener: `/ws/{token}` becomes a protocol socket; any other path is refused with 404. */
  readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const match = WS_PATH.exec(req.url ?? '');
    if (!match || !this.accepting || req.headers.upgrade?.toLowerCase() !== 'websocket') {
      socket.end(
        `HTTP/1.1 ${match ? '503 Service Unavailable' : '404 Not Found'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
      );
      socket.destroy();
      return;
    }
    let token = match[1]!;
    try {
      token = decodeURIComponent(token);
    } catch {
      // An undecodable token is simply unknown.
    }
    const found = this.deps.lookup(token);
    if (found.kind === 'ok' && (this.perToken.get(found.tokenHash) ?? 0) >= this.deps.maxSocketsPerToken) {
      // Refused before the upgrade: a client reconnects later with its backoff, and nothing is allocated for it.
      this.deps.log.debug({ project: found.project }, 'control plane: socket refused, maxSocketsPerToken reached');
      socket.end('HTTP/1.1 429 Too Many Requests\r\nRetry-After: 30\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      socket.destroy();
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onOpen(ws, req, found));
  };

  private onOpen(ws: WebSocket, req: IncomingMessage, found: TokenLookup): void {
    ws.on('error', (err) => this.deps.log.debug({ err }, 'control plane: socket error'));
    if (found.kind === 'unknown') {
      ws.close(CLOSE_INVALID_TOKEN, 'invalid token');
      return;
    }
    if (found.kind === 'revoked') {
      ws.send(revokedFrame(found.reason));
      ws.close(CLOSE_REVOKED, 'token revoked');
      return;
    }
    const now = Date.now();
    const ua = fromUserAgent(req.headers['user-agent']);
    const instance: InstanceInfo = {
      id: randomUUID(),
      project: found.project,
      sdkVersion: ua.sdkVersion ?? null,
      language: ua.language ?? null,
      env: null,
      connectedAt: now,
      lastSeenAt: now,
      connected: true,
      stale: false,
      address: this.deps.clientIp(req),
      node: this.deps.node,
    };
    const conn: Connection = {
      ws,
      tokenHash: found.tokenHash,
      instance,
      alive: true,
      budget: this.deps.messageBudget.burst,
      refilledAt: performance.now(),
    };
    this.perToken.set(found.tokenHash, (this.perToken.get(found.tokenHash) ?? 0) + 1);
    let set = this.byProject.get(found.project);
    if (!set) this.byProject.set(found.project, (set = new Set()));
    set.add(conn);
    ws.send(found.frame, TEXT);
    ws.on('pong', () => (conn.alive = true));
    ws.on('message', (data, isBinary) => this.onMessage(conn, data, isBinary));
    ws.once('close', () => this.onClose(conn));
    this.deps.onInstance({ ...instance }, 'connected');
  }

  private onMessage(conn: Connection, data: RawData, isBinary: boolean): void {
    if (conn.ws.readyState !== conn.ws.OPEN) return; // closing: the rest of a flood is dropped unread
    conn.alive = true;
    const { burst, perSecond } = this.deps.messageBudget;
    const now = performance.now();
    conn.budget = Math.min(burst, conn.budget + ((now - conn.refilledAt) * perSecond) / 1000);
    conn.refilledAt = now;
    if (conn.budget < 1) return this.reject(conn, 'budget', 'message budget exceeded');
    conn.budget -= 1;
    if (isBinary) return this.reject(conn, 'invalid', 'frames must be JSON text');
    const parsed = parseClientMessage(data.toString());
    if (parsed === 'ignore') return;
    if (parsed === 'invalid') return this.reject(conn, 'invalid', 'a message must be a JSON object');
    const i = conn.instance;
    i.lastSeenAt = Date.now();
    if (parsed.sdkVersion !== undefined) i.sdkVersion = parsed.sdkVersion;
    if (parsed.language !== undefined) i.language = parsed.language;
    if (parsed.env !== undefined) i.env = parsed.env;
    // No copy: listeners read (or serialise) it at once.
    this.deps.onInstance(i, 'heartbeat');
  }

  /** One error frame saying why, then close 1008: a misbehaving socket is not answered frame by frame. */
  private reject(conn: Connection, why: 'budget' | 'invalid', message: string): void {
    this.deps.log.warn(
      { project: conn.instance.project, instance: conn.instance.id, address: conn.instance.address, why },
      `control plane: closing a socket: ${message}`,
    );
    conn.ws.send(errorFrame(why === 'budget' ? 'rate_limited' : 'bad_message', message));
    conn.ws.close(CLOSE_POLICY, why === 'budget' ? 'message budget exceeded' : 'invalid frame');
    // A peer that keeps sending and never completes the close handshake is cut off.
    const force = setTimeout(() => conn.ws.terminate(), 1000);
    force.unref();
    conn.ws.once('close', () => clearTimeout(force));
  }

  private onClose(conn: Connection): void {
    const set = this.byProject.get(conn.instance.project);
    if (!set?.delete(conn)) return;
    if (set.size === 0) this.byProject.delete(conn.instance.project);
    const left = (this.perToken.get(conn.tokenHash) ?? 1) - 1;
    if (left > 0) this.perToken.set(conn.tokenHash, left);
    else this.perToken.delete(conn.tokenHash);
    conn.instance.connected = false;
    this.addGone(conn.instance);
    this.deps.onInstance({ ...conn.instance }, 'disconnected');
  }

  /** Keep a disconnected instance listed, pushing the oldest of its project out (and counting it) beyond the cap. */
  private addGone(instance: InstanceInfo): void {
    let list = this.gone.get(instance.project);
    if (!list) this.gone.set(instance.project, (list = { byId: new Map(), omitted: [] }));
    list.byId.delete(instance.id);
    list.byId.set(instance.id, instance);
    while (list.byId.size > this.deps.maxDisconnectedInstances) {
      const [oldestId, oldest] = list.byId.entries().next().value as [string, InstanceInfo];
      list.byId.delete(oldestId);
      const minute = Math.floor(oldest.lastSeenAt / 60_000);
      const last = list.omitted[list.omitted.length - 1];
      if (last !== undefined && last[0] === minute) last[1]++;
      else list.omitted.push([minute, 1]);
    }
  }

  /** How many disconnected instances of a project are counted but not listed (within the retention). */
  omitted(project: string): number {
    let n = 0;
    for (const [, count] of this.gone.get(project)?.omitted ?? []) n += count;
    return n;
  }

  /** Send a (pre-serialised, UTF-8) frame as a text frame to every socket of a project in this process; returns how many sockets it has. */
  broadcast(project: string, frame: Buffer): number {
    const set = this.byProject.get(project);
    if (!set) return 0;
    for (const conn of set) if (conn.ws.readyState === conn.ws.OPEN) conn.ws.send(frame, TEXT);
    return set.size;
  }

  /** Tell every socket opened with one of these tokens that it is revoked, and close it with 4002. */
  revokeTokens(hashes: ReadonlySet<string>, reason: string): number {
    let n = 0;
    const frame = revokedFrame(reason);
    for (const set of this.byProject.values()) {
      for (const conn of set) {
        if (!hashes.has(conn.tokenHash)) continue;
        n++;
        this.kick(conn, frame);
      }
    }
    return n;
  }

  /** Close every socket of a project (deleted) with a `revoked` frame and 4002. */
  revokeProject(project: string, reason: string): void {
    const frame = revokedFrame(reason);
    for (const conn of this.byProject.get(project) ?? []) this.kick(conn, frame);
  }

  private kick(conn: Connection, frame: string): void {
    if (conn.ws.readyState !== conn.ws.OPEN) return;
    conn.ws.send(frame);
    conn.ws.close(CLOSE_REVOKED, 'token revoked');
  }

  /** Record an instance another control plane holds (a disconnected one joins the capped list). */
  applyRemote(instance: InstanceInfo): void {
    if (instance.node === this.deps.node) return;
    if (instance.connected) {
      this.remote.set(instance.id, instance);
      return;
    }
    this.remote.delete(instance.id);
    this.addGone(instance);
  }

  /** Forget instances of a project (deleted). */
  forgetProject(project: string): void {
    this.gone.delete(project);
    for (const [id, i] of this.remote) if (i.project === project) this.remote.delete(id);
  }

  /** The instances of a project: this process's sockets, recently closed ones, and those of other control planes. */
  instances(project: string): InstanceInfo[] {
    const now = Date.now();
    const staleAfter = 3 * this.deps.heartbeatIntervalMs;
    const out: InstanceInfo[] = [];
    const seen = new Set<string>();
    const add = (i: InstanceInfo): void => {
      if (seen.has(i.id)) return;
      seen.add(i.id);
      out.push({ ...i, stale: now - i.lastSeenAt > staleAfter });
    };
    for (const conn of this.byProject.get(project) ?? []) add(conn.instance);
    for (const i of this.remote.values()) if (i.project === project) add(i);
    for (const i of this.gone.get(project)?.byId.values() ?? []) add(i);
    return out.sort((a, b) => Number(b.connected) - Number(a.connected) || b.lastSeenAt - a.lastSeenAt);
  }

  /** Stop taking new sockets (close is coming). */
  stopAccepting(): void {
    this.accepting = false;
  }

  /** Close every socket (1001, going away) and stop the timers. Safe to call twice. */
  close(): Promise<void> {
    this.accepting = false;
    clearInterval(this.pingTimer);
    const closing: Array<Promise<void>> = [];
    for (const set of this.byProject.values()) {
      for (const conn of set) {
        closing.push(
          new Promise<void>((resolve) => {
            if (conn.ws.readyState === conn.ws.CLOSED) return resolve();
            const timer = setTimeout(() => {
              conn.ws.terminate();
              resolve();
            }, 500);
            timer.unref();
            conn.ws.once('close', () => {
              clearTimeout(timer);
              resolve();
            });
            conn.ws.close(1001, 'control plane shutting down');
          }),
        );
      }
    }
    return Promise.all(closing).then(() => {
      this.byProject.clear();
      this.wss.close();
    });
  }

  private sweep(): void {
    const now = Date.now();
    for (const set of this.byProject.values()) {
      for (const conn of set) {
        if (!conn.alive) {
          conn.ws.terminate();
          continue;
        }
        conn.alive = false;
        conn.ws.ping();
      }
    }
    const cutoff = now - this.deps.instanceRetentionMs;
    for (const [id, i] of this.remote) if (i.lastSeenAt < cutoff) this.remote.delete(id);
    const minuteCutoff = Math.floor(cutoff / 60_000);
    for (const [project, list] of this.gone) {
      for (const [id, i] of list.byId) if (i.lastSeenAt < cutoff) list.byId.delete(id);
      while (list.omitted.length > 0 && (list.omitted[0] as [number, number])[0] < minuteCutoff) list.omitted.shift();
      if (list.byId.size === 0 && list.omitted.length === 0) this.gone.delete(project);
    }
  }
}
