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
  log: Logger;
}

interface Connection {
  ws: WebSocket;
  tokenHash: string;
  instance: InstanceInfo;
  /** Answered the last ping (or said anything) since. */
  alive: boolean;
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
  /** Disconnected instances of this process, kept for the dashboard until the retention passes. */
  private readonly gone = new Map<string, InstanceInfo>();
  /** Instances held by other control-plane processes (Redis), by id. */
  private readonly remote = new Map<string, InstanceInfo>();
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
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onOpen(ws, req, this.deps.lookup(token)));
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
    const conn: Connection = { ws, tokenHash: found.tokenHash, instance, alive: true };
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
    conn.alive = true;
    if (isBinary) {
      conn.ws.send(errorFrame('bad_message', 'frames must be JSON text'));
      return;
    }
    const parsed = parseClientMessage(data.toString());
    if (parsed === 'ignore') return;
    if (parsed === 'invalid') {
      conn.ws.send(errorFrame('bad_message', 'a message must be a JSON object'));
      return;
    }
    const i = conn.instance;
    i.lastSeenAt = Date.now();
    if (parsed.sdkVersion !== undefined) i.sdkVersion = parsed.sdkVersion;
    if (parsed.language !== undefined) i.language = parsed.language;
    if (parsed.env !== undefined) i.env = parsed.env;
    // No copy: listeners read (or serialise) it at once.
    this.deps.onInstance(i, 'heartbeat');
  }

  private onClose(conn: Connection): void {
    const set = this.byProject.get(conn.instance.project);
    if (!set?.delete(conn)) return;
    if (set.size === 0) this.byProject.delete(conn.instance.project);
    conn.instance.connected = false;
    this.gone.set(conn.instance.id, conn.instance);
    this.deps.onInstance({ ...conn.instance }, 'disconnected');
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

  /** Record (or forget, with `connected: false` past retention) an instance another control plane holds. */
  applyRemote(instance: InstanceInfo): void {
    if (instance.node === this.deps.node) return;
    this.remote.set(instance.id, instance);
  }

  /** Forget instances of a project (deleted). */
  forgetProject(project: string): void {
    for (const map of [this.gone, this.remote]) for (const [id, i] of map) if (i.project === project) map.delete(id);
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
    for (const map of [this.gone, this.remote]) for (const i of map.values()) if (i.project === project) add(i);
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
    for (const map of [this.gone, this.remote]) for (const [id, i] of map) if (i.lastSeenAt < cutoff) map.delete(id);
  }
}
