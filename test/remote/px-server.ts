/**
 * A small PXControl protocol server for the tests and the bench, written from ../shared/PXCONTROL.md with `ws`
 * and node:http (deliberately not gatehouse's own control plane, so client and server are checked apart).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

/** A project as the server holds it: the status object sent in frames and poll answers (without `type`). */
export type ProjectStatus = Record<string, unknown> & { status: string };

/** One message a client sent, with when it arrived. */
export interface Received {
  token: string;
  at: number;
  text: string;
  json: unknown;
}

export interface PxServerOptions {
  /** Version catalogue served at /api/v1/sdk/versions. */
  catalogue?: unknown;
}

export class PxServer {
  readonly http: Server;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly projects = new Map<string, ProjectStatus>();
  private readonly revokedTokens = new Set<string>();
  private readonly sockets = new Map<WebSocket, string>();
  /** Every text message received from clients. */
  readonly received: Received[] = [];
  /** Upgrade attempts (accepted or refused), per token. */
  readonly upgrades: Array<{ token: string; at: number; userAgent: string | undefined; refused: boolean }> = [];
  /** HTTP requests: path (token included) and User-Agent. */
  readonly requests: Array<{ path: string; at: number; userAgent: string | undefined }> = [];
  /** Refuse every WebSocket upgrade with this HTTP status (0 = accept). */
  refuseUpgrades = 0;
  /** Answer polls with this HTTP status instead of the project (0 = answer normally). */
  pollStatus = 0;
  /** Send a status frame right after the socket opens (the protocol says so; off only for special tests). */
  greet = true;
  catalogue: unknown;

  constructor(options: PxServerOptions = {}) {
    this.catalogue = options.catalogue ?? {
      node: { latest: '0.1.3', minimum_supported: '0.1.3', changelog_url: null },
      python: { latest: '0.1.3', minimum_supported: '0.1.2', changelog_url: null },
    };
    this.http = createServer((req, res) => this.onRequest(req, res));
    this.http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
  }

  private boundPort = 0;

  async listen(port = 0): Promise<void> {
    await new Promise<void>((resolve) => this.http.listen(port, '127.0.0.1', resolve));
    this.boundPort = (this.http.address() as AddressInfo).port;
  }

  /** The bound port (kept after close, so clients can keep dialling a dead address). */
  get port(): number {
    return this.boundPort;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** Create or replace a project. */
  addProject(token: string, status: ProjectStatus): void {
    this.projects.set(token, { ...status });
  }

  /** Change a project's status fields and push a status frame to its connected sockets. */
  setStatus(token: string, fields: Partial<ProjectStatus>): void {
    const p = this.projects.get(token);
    if (!p) throw new Error(`no project ${token}`);
    Object.assign(p, fields);
    this.sendTo(token, JSON.stringify({ type: 'status', ...p }));
  }

  /** Change a project without pushing anything (polls see it). */
  setQuietly(token: string, fields: Partial<ProjectStatus>): void {
    const p = this.projects.get(token);
    if (!p) throw new Error(`no project ${token}`);
    Object.assign(p, fields);
  }

  /** Send raw text (or a binary buffer) to a token's sockets. */
  sendTo(token: string, data: string | Buffer): void {
    for (const [ws, t] of this.sockets) if (t === token && ws.readyState === ws.OPEN) ws.send(data);
  }

  /** Revoke a token: a `revoked` frame to its sockets; later connects get close code 4002, polls 403. */
  revoke(token: string, reason = 'token rotated'): void {
    this.revokedTokens.add(token);
    this.sendTo(token, JSON.stringify({ type: 'revoked', reason }));
  }

  /** Close a token's sockets with a code. */
  closeSockets(token: string, code: number, reason = ''): void {
    for (const [ws, t] of this.sockets) if (t === token) ws.close(code, reason);
  }

  /** Kill every socket without a close handshake (a network drop). */
  dropAll(): void {
    for (const ws of this.sockets.keys()) ws.terminate();
  }

  /** Open sockets of a token. */
  connections(token: string): number {
    let n = 0;
    for (const [ws, t] of this.sockets) if (t === token && ws.readyState === ws.OPEN) n++;
    return n;
  }

  /** Heartbeats received for a token, parsed. */
  heartbeats(token: string): Array<Record<string, unknown>> {
    return this.received
      .filter((r) => r.token === token && (r.json as { type?: unknown } | undefined)?.type === 'heartbeat')
      .map((r) => r.json as Record<string, unknown>);
  }

  /** Polls received for a token. */
  polls(token: string): number {
    return this.requests.filter((r) => r.path === `/api/v1/status/${token}`).length;
  }

  /** Catalogue requests. */
  catalogueHits(): number {
    return this.requests.filter((r) => r.path === '/api/v1/sdk/versions').length;
  }

  async close(): Promise<void> {
    if (!this.http.listening) return;
    for (const ws of this.sockets.keys()) ws.terminate();
    this.wss.close();
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  private tokenOf(path: string, prefix: string): string | undefined {
    if (!path.startsWith(prefix)) return undefined;
    const rest = path.slice(prefix.length);
    return rest.length > 0 && !rest.includes('/') ? decodeURIComponent(rest) : undefined;
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined); // clients that give up mid-handshake reset the connection
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const token = this.tokenOf(path, '/ws/');
    const refused = this.refuseUpgrades !== 0 || token === undefined;
    this.upgrades.push({ token: token ?? '', at: Date.now(), userAgent: req.headers['user-agent'], refused });
    if (refused) {
      const code = this.refuseUpgrades || 404;
      socket.end(`HTTP/1.1 ${code} Refused\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      if (this.revokedTokens.has(token)) return ws.close(4002, 'token revoked');
      const project = this.projects.get(token);
      if (!project) return ws.close(4001, 'invalid token');
      this.sockets.set(ws, token);
      ws.on('message', (data) => {
        const text = String(data);
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        this.received.push({ token, at: Date.now(), text, json });
      });
      ws.on('close', () => this.sockets.delete(ws));
      ws.on('error', () => undefined);
      if (this.greet) ws.send(JSON.stringify({ type: 'status', ...project }));
    });
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    this.requests.push({ path, at: Date.now(), userAgent: req.headers['user-agent'] });
    const json = (status: number, body: unknown): void => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (req.method === 'GET' && path === '/api/v1/sdk/versions') return json(200, this.catalogue);
    const token = req.method === 'GET' ? this.tokenOf(path, '/api/v1/status/') : undefined;
    if (token !== undefined) {
      if (this.pollStatus) return json(this.pollStatus, { error: 'unavailable' });
      if (this.revokedTokens.has(token)) return json(403, { error: 'revoked' });
      const project = this.projects.get(token);
      if (!project) return json(404, { error: 'not_found' });
      return json(200, project);
    }
    json(404, { error: 'not_found' });
  }
}
