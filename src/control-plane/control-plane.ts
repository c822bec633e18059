import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import {
  LIFECYCLE_STATES,
  installShutdownHandlers,
  isLifecycleState,
  type LifecycleState,
} from '../lifecycle/index.js';
import { createLogger, type Logger } from '../logger.js';
import { createRedisConnections, type RedisConnections } from '../redis.js';
import { ServicePortal } from '../servers/index.js';
import { adminAuthProblem, mountAdminApi, type AdminTarget } from './admin.js';
import { DASHBOARD_HTML } from './dashboard-page.js';
import { DASHBOARD_SCRIPT } from './dashboard-script.js';
import { ControlPlaneError } from './errors.js';
import { LiveFeed } from './live.js';
import { resolveControlPlaneOptions, type ControlPlaneOptions, type ResolvedControlPlaneOptions } from './options.js';
import { statusFrame, statusObject, type SdkVersionEntry, type StatusObject } from './protocol.js';
import { mountProtocolRoutes } from './routes.js';
import { SocketHub, type TokenLookup } from './sockets.js';
import type { ProjectStore, StoreEvent } from './store.js';
import { RedisProjectStore } from './store-redis.js';
import { SqliteProjectStore } from './store-sqlite.js';
import { PROJECT_TOKEN_PATTERN, hashToken, newProjectToken, sameSecret, secretDigest, tokenHint } from './tokens.js';
import {
  FAIL_MODES,
  type AuditEntry,
  type FailMode,
  type InstanceInfo,
  type ProjectRecord,
  type TokenRecord,
} from './types.js';

/** Largest accepted message, in characters (the lifecycle's own limit). */
const MAX_MESSAGE = 1000;
/** Largest accepted `retryAfterSec` (7 days). */
const MAX_RETRY_AFTER = 604_800;
const PROJECT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Who made a change, for the audit log. */
export interface ActorOption {
  /** Recorded as the change's author. @defaultValue 'api' */
  actor?: string;
}

/** Options of {@link ControlPlane.createProject}. */
export interface CreateProjectOptions extends ActorOption {
  /** Letters, digits, `.`, `_`, `-`; at most 64 characters; unique. */
  name: string;
  /** @defaultValue 'closed' */
  failMode?: FailMode;
}

/** Options of {@link ControlPlane.setStatus}. */
export interface SetProjectStatusOptions extends ActorOption {
  /** Message for this state (PAUSED: pause message; MAINTENANCE: maintenance message; OFFLINE/FAILED: offline message). Omitted keeps the one set before; `null` or `''` restores the default. */
  message?: string | null;
  /** Seconds clients should wait before retrying; omitted or `null`: unset. */
  retryAfterSec?: number | null;
}

/** A token as the admin API and dashboard show it (never the token itself). */
export interface TokenView {
  hint: string;
  createdAt: number;
  revokedAt: number | null;
  revokedReason: string | null;
}

/** A project with its tokens, its live instances and the status object its clients get. */
export interface ProjectView extends ProjectRecord {
  /** What clients receive (`status` frames and poll answers). */
  wire: StatusObject;
  tokens: TokenView[];
  instances: InstanceInfo[];
}

/** Options of {@link ControlPlane.run}. */
export interface ControlPlaneRunOptions {
  /** Port; 0 picks a free one. @defaultValue 4000 */
  port?: number;
  /** Interface to bind. @defaultValue '127.0.0.1' */
  host?: string;
  /** Install SIGTERM/SIGINT handlers that close the control plane. @defaultValue true */
  handleSignals?: boolean;
}

/** The status of a project as the CLI and `status()` report it. */
export type ProjectStatus = StatusObject;

function inputError(message: string): ControlPlaneError {
  return new ControlPlaneError(message, { code: 'ERR_CONTROL_INPUT' });
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || !PROJECT_NAME.test(name))
    throw inputError(
      `project name must be 1-64 letters, digits, dots, dashes or underscores (starting with a letter or digit), got ${JSON.stringify(name)}`,
    );
  return name;
}

function checkFailMode(mode: unknown): FailMode {
  if (mode !== 'open' && mode !== 'closed')
    throw inputError(`failMode must be 'open' or 'closed', got ${JSON.stringify(mode)}`);
  return mode;
}

function checkActor(actor: unknown): string {
  if (actor === undefined) return 'api';
  if (typeof actor !== 'string' || actor.length === 0 || actor.length > 200)
    throw inputError('actor must be a string of 1 to 200 characters');
  return actor;
}

/**
 * A self-hosted, PXControl-compatible control plane: projects with tokens (stored hashed), one switch per project
 * for the five lifecycle states with messages and fail mode, every connected instance with its heartbeat, an
 * admin HTTP API (bearer admin token, problem+json, OpenAPI at `/openapi.json`), an audit log and a live
 * dashboard at `/`. Stock PXControl SDKs and gatehouse's remote lifecycle source connect to `/ws/{token}`.
 *
 * @example
 * ```ts
 * const cp = new ControlPlane({ dataDir: './control', adminToken: process.env.GATEHOUSE_CONTROL_TOKEN });
 * const { token } = await cp.createProject({ name: 'notes', failMode: 'closed' }); // shown once
 * await cp.run({ port: 4000 });
 * await cp.setStatus('notes', 'PAUSED', { message: 'Invoice due' });            // every instance follows
 * ```
 */
export class ControlPlane implements AdminTarget {
  /** The portal serving the admin API, the protocol's HTTP endpoints and the dashboard. */
  readonly portal: ServicePortal;
  /** Id of this control-plane process (host:pid:random), shown next to the instances it holds. */
  readonly node: string;
  /** The control plane's logger. */
  readonly log: Logger;

  private readonly options: ResolvedControlPlaneOptions;
  private readonly store: ProjectStore;
  private readonly redis: RedisConnections | undefined;
  private readonly hub: SocketHub;
  private readonly feed: LiveFeed;
  private readonly adminDigest: Buffer | undefined;
  private readonly projectsByName = new Map<string, ProjectRecord>();
  private readonly tokensByHash = new Map<string, TokenRecord>();
  private readonly frames = new Map<string, { text: string; buf: Buffer }>();
  /** When (this process's clock) each project name was last changed here, so an older reload never undoes a newer change. */
  private readonly touched = new Map<string, number>();
  private readonly unsubscribe: () => void;
  private readonly ready: Promise<void>;
  private mutex: Promise<unknown> = Promise.resolve();
  private removeSignalHandlers: (() => void) | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: ControlPlaneOptions = {}) {
    const o = resolveControlPlaneOptions(options);
    this.options = o;
    const root = o.logger ?? createLogger({ base: { service: o.name } });
    this.log = root.child({ component: 'control-plane' });
    this.node = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.adminDigest = o.adminToken === undefined ? undefined : secretDigest(o.adminToken);
    if (o.redis !== undefined) {
      this.redis = createRedisConnections(o.redis, { name: 'control', log: this.log });
      this.store = new RedisProjectStore({
        redis: this.redis,
        node: this.node,
        auditLimit: o.auditLimit,
        resyncIntervalMs: o.resyncIntervalMs,
        log: this.log,
      });
    } else {
      this.store = new SqliteProjectStore({ dataDir: o.dataDir, watchIntervalMs: o.watchIntervalMs });
    }
    this.portal = new ServicePortal({
      name: o.name,
      dataDir: o.dataDir,
      logger: root,
      requestLog: o.requestLog,
      maxConnectionsPerIp: o.maxConnectionsPerIp,
      // The admin API takes the admin token, not JWTs: a per-process secret keeps the portal from writing one to dataDir.
      auth: { secret: randomBytes(48).toString('base64url') },
      // helmet's CSP, minus upgrade-insecure-requests: a control plane inside a network is often served over plain http.
      securityHeaders: { contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } },
      openapi: {
        title: 'gatehouse control plane',
        description: 'Admin API (Authorization: Bearer <admin token>) and the PXControl protocol endpoints.',
      },
      health: { adminPath: false },
      enforce: 'strict',
    });
    this.portal.addCheck('store', () => {
      const h = this.store.health();
      return h.ok ? { state: 'OK', detail: this.store.kind } : { state: 'RED', detail: h.reason };
    });
    this.portal.addStatusField('sockets', () => this.hub.size);
    this.hub = new SocketHub({
      lookup: (token) => this.lookup(token),
      clientIp: (req) => this.portal.clientIp(req),
      onInstance: (instance, change) => this.onInstance(instance, change),
      node: this.node,
      heartbeatIntervalMs: o.heartbeatIntervalMs,
      instanceRetentionMs: o.instanceRetentionMs,
      maxPayloadBytes: o.maxPayloadBytes,
      log: this.log,
    });
    this.feed = new LiveFeed({
      snapshot: () => this.snapshot(),
      debounceMs: 50,
      slowMs: 1000,
      refreshMs: Math.min(5000, o.heartbeatIntervalMs),
      log: this.log,
    });
    this.unsubscribe = this.store.subscribe((event) => this.onStoreEvent(event));

    mountProtocolRoutes(this.portal, { lookup: (token) => this.lookupStatus(token), versions: () => o.sdkVersions });
    mountAdminApi(this.portal, this);
    this.portal.app.get('/', (_req, res) => {
      res.setHeader('Cache-Control', 'no-store');
      res.type('html').send(DASHBOARD_HTML);
    });
    this.portal.app.get('/dashboard.js', (_req, res) => {
      res.setHeader('Cache-Control', 'no-cache');
      res.type('application/javascript').send(DASHBOARD_SCRIPT);
    });
    this.wrapRequests();
    this.portal.server.on('upgrade', this.hub.onUpgrade);
    this.ready = this.start();
    // Callers see failures through the methods (each awaits ready); this keeps the promise from being unhandled.
    this.ready.catch((err: unknown) => this.log.error({ err }, 'control plane: loading the store failed'));
  }

  /** The bound port, once `run()` has resolved. */
  get port(): number {
    return this.portal.port;
  }

  /** Which store runs: `'sqlite'` (under dataDir) or `'redis'`. */
  get storeKind(): 'sqlite' | 'redis' {
    return this.store.kind;
  }

  /** The heartbeat interval clients are expected to use, in ms (stale after 3). */
  get heartbeatIntervalMs(): number {
    return this.options.heartbeatIntervalMs;
  }

  /** The version catalogue served at `/api/v1/sdk/versions`. */
  get sdkVersions(): { node: SdkVersionEntry; python: SdkVersionEntry; gatehouse: SdkVersionEntry } {
    return this.options.sdkVersions;
  }

  private async start(): Promise<void> {
    if (this.store instanceof RedisProjectStore && !(await this.store.ready(3000))) {
      throw new ControlPlaneError(
        `The control plane cannot reach Redis: ${this.store.health().reason ?? 'unknown reason'}`,
        { code: 'ERR_CONTROL_STORE' },
      );
    }
    await this.resync();
  }

  /**
   * Create a project and its first token. The token (`px_` + 43 random characters) is returned once and stored
   * only as a SHA-256 hash.
   */
  async createProject(options: CreateProjectOptions): Promise<{ token: string; project: ProjectView }> {
    if (options === null || typeof options !== 'object') throw inputError('createProject needs { name, failMode? }');
    const name = checkName(options.name);
    const failMode = options.failMode === undefined ? 'closed' : checkFailMode(options.failMode);
    const actor = checkActor(options.actor);
    return this.mutate(async () => {
      if (this.projectsByName.has(name))
        throw new ControlPlaneError(`A project named ${name} exists already`, { code: 'ERR_CONTROL_CONFLICT' });
      const now = Date.now();
      const project: ProjectRecord = {
        name,
        state: 'ACTIVE',
        failMode,
        pauseMessage: null,
        maintenanceMessage: null,
        offlineMessage: null,
        retryAfterSec: null,
        createdAt: now,
        updatedAt: now,
        updatedBy: actor,
      };
      const token = newProjectToken();
      const record: TokenRecord = {
        hash: hashToken(token),
        project: name,
        hint: tokenHint(token),
        createdAt: now,
        revokedAt: null,
        revokedReason: null,
      };
      await this.store.insertProject(project, record);
      this.applyTokens([record]);
      this.applyProject(project);
      await this.audit({
        at: now,
        actor,
        project: name,
        action: 'project.create',
        from: null,
        to: `ACTIVE, fail mode ${failMode}`,
        detail: `token ${record.hint}`,
      });
      await this.tell({ kind: 'tokens', tokens: [record] }, { kind: 'project', project });
      return { token, project: this.view(project) };
    });
  }

  /**
   * Set a project's state; every connected instance gets a status frame at once (MAINTENANCE reaches stock SDKs
   * as PAUSED with the maintenance message).
   */
  async setStatus(name: string, state: LifecycleState, options: SetProjectStatusOptions = {}): Promise<ProjectView> {
    checkName(name);
    if (!isLifecycleState(state))
      throw inputError(`state must be one of ${LIFECYCLE_STATES.join(', ')}, got ${JSON.stringify(state)}`);
    const message = options.message;
    if (message !== undefined && message !== null && (typeof message !== 'string' || message.length > MAX_MESSAGE))
      throw inputError(`message must be a string of at most ${MAX_MESSAGE} characters`);
    const retry = options.retryAfterSec;
    if (
      retry !== undefined &&
      retry !== null &&
      (typeof retry !== 'number' || !Number.isInteger(retry) || retry < 0 || retry > MAX_RETRY_AFTER)
    ) {
      throw inputError(
        `retryAfterSec must be a whole number of seconds from 0 to ${MAX_RETRY_AFTER}, got ${String(retry)}`,
      );
    }
    const actor = checkActor(options.actor);
    return this.mutate(async () => {
      const prev = this.require(name);
      const next: ProjectRecord = {
        ...prev,
        state,
        retryAfterSec: retry ?? null,
        updatedAt: Date.now(),
        updatedBy: actor,
      };
      if (message !== undefined) {
        const value = message === null || message === '' ? null : message;
        if (state === 'PAUSED') next.pauseMessage = value;
        else if (state === 'MAINTENANCE') next.maintenanceMessage = value;
        else if (state === 'OFFLINE' || state === 'FAILED') next.offlineMessage = value;
      }
      await this.store.saveProject(next);
      this.applyProject(next);
      await this.audit({
        at: next.updatedAt,
        actor,
        project: name,
        action: 'status',
        from: prev.state,
        to: state,
        detail: message ? message : retry != null ? `retry after ${retry} s` : null,
      });
      await this.tell({ kind: 'project', project: next });
      return this.view(next);
    });
  }

  /** Set a project's fail mode (sent to its clients in `fail_mode`). */
  async setFailMode(name: string, failMode: FailMode, options: ActorOption = {}): Promise<ProjectView> {
    checkName(name);
    checkFailMode(failMode);
    const actor = checkActor(options.actor);
    return this.mutate(async () => {
      const prev = this.require(name);
      const next: ProjectRecord = { ...prev, failMode, updatedAt: Date.now(), updatedBy: actor };
      await this.store.saveProject(next);
      this.applyProject(next);
      await this.audit({
        at: next.updatedAt,
        actor,
        project: name,
        action: 'fail-mode',
        from: prev.failMode,
        to: failMode,
        detail: null,
      });
      await this.tell({ kind: 'project', project: next });
      return this.view(next);
    });
  }

  /** Issue a new token for a project and revoke the ones it had (their sockets get `revoked` and close 4002). Returns the new token, once. */
  async rotateToken(name: string, options: ActorOption = {}): Promise<{ token: string }> {
    checkName(name);
    const actor = checkActor(options.actor);
    return this.mutate(async () => {
      this.require(name);
      const now = Date.now();
      const token = newProjectToken();
      const record: TokenRecord = {
        hash: hashToken(token),
        project: name,
        hint: tokenHint(token),
        createdAt: now,
        revokedAt: null,
        revokedReason: null,
      };
      const old = this.liveTokens(name).map((t) => ({ ...t, revokedAt: now, revokedReason: 'token rotated' }));
      await this.store.addToken(record);
      await this.store.revokeTokens(old);
      this.applyTokens([record, ...old]);
      await this.audit({
        at: now,
        actor,
        project: name,
        action: 'token.rotate',
        from: old.map((t) => t.hint).join(', ') || null,
        to: record.hint,
        detail: null,
      });
      await this.tell({ kind: 'tokens', tokens: [record, ...old] });
      return { token };
    });
  }

  /** Revoke one token: its sockets get a `revoked` frame and close 4002, its polls answer 403. Rejects `ERR_CONTROL_NOT_FOUND` for an unknown token. */
  async revokeToken(token: string, options: ActorOption = {}): Promise<void> {
    if (typeof token !== 'string' || !PROJECT_TOKEN_PATTERN.test(token))
      throw inputError('token must be a project token (px_...)');
    const actor = checkActor(options.actor);
    await this.mutate(async () => {
      const found = this.tokensByHash.get(hashToken(token));
      if (!found) throw new ControlPlaneError('No such token', { code: 'ERR_CONTROL_NOT_FOUND' });
      if (found.revokedAt !== null) return;
      await this.revoke([found], actor);
    });
  }

  /** Revoke every valid token of a project (until `rotateToken` issues a new one). */
  async revokeProjectTokens(name: string, options: ActorOption = {}): Promise<number> {
    checkName(name);
    const actor = checkActor(options.actor);
    return this.mutate(async () => {
      this.require(name);
      const live = this.liveTokens(name);
      if (live.length > 0) await this.revoke(live, actor);
      return live.length;
    });
  }

  private async revoke(tokens: TokenRecord[], actor: string): Promise<void> {
    const now = Date.now();
    const revoked = tokens.map((t) => ({ ...t, revokedAt: now, revokedReason: 'token revoked' }));
    await this.store.revokeTokens(revoked);
    this.applyTokens(revoked);
    for (const t of revoked)
      await this.audit({
        at: now,
        actor,
        project: t.project,
        action: 'token.revoke',
        from: t.hint,
        to: null,
        detail: null,
      });
    await this.tell({ kind: 'tokens', tokens: revoked });
  }

  /** Delete a project: its tokens are revoked and its sockets closed (4002). */
  async deleteProject(name: string, options: ActorOption = {}): Promise<void> {
    checkName(name);
    const actor = checkActor(options.actor);
    await this.mutate(async () => {
      const prev = this.require(name);
      const now = Date.now();
      const revoked = await this.store.deleteProject(name, now, 'project deleted');
      this.applyTokens(revoked);
      this.applyDeleted(name);
      await this.audit({
        at: now,
        actor,
        project: name,
        action: 'project.delete',
        from: prev.state,
        to: null,
        detail: null,
      });
      await this.tell({ kind: 'tokens', tokens: revoked }, { kind: 'deleted', name });
    });
  }

  /** Every project, by name, with tokens (hints only) and instances. */
  projects(): ProjectView[] {
    return [...this.projectsByName.values()].sort((a, b) => a.name.localeCompare(b.name)).map((p) => this.view(p));
  }

  /** One project, or `undefined`. */
  project(name: string): ProjectView | undefined {
    const p = this.projectsByName.get(name);
    return p ? this.view(p) : undefined;
  }

  /** What a project's clients are told right now (the poll answer). Throws `ERR_CONTROL_NOT_FOUND` for an unknown project. */
  status(name: string): ProjectStatus {
    return statusObject(this.require(name));
  }

  /**
   * The instances of a project: one per socket, with SDK version, language and env from its heartbeats,
   * `lastSeenAt`, `connected`, and `stale` once silent for 3 heartbeat intervals. Closed sockets stay listed
   * (connected: false) for `instanceRetentionMs`. With Redis, other control planes' instances are included.
   */
  instances(name: string): InstanceInfo[] {
    return this.hub.instances(name);
  }

  /** The audit log, newest first. */
  async auditLog(options: { project?: string; limit?: number } = {}): Promise<AuditEntry[]> {
    await this.ready;
    const limit = options.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw inputError('limit must be a whole number from 1 to 1000');
    if (options.project !== undefined) checkName(options.project);
    return this.store.audit({ project: options.project, limit });
  }

  /** Whether `Authorization` carries the admin token (constant-time). */
  isAdmin(authorization: string | undefined): boolean {
    if (this.adminDigest === undefined || authorization === undefined) return false;
    const space = authorization.indexOf(' ');
    if (space <= 0 || authorization.slice(0, space).toLowerCase() !== 'bearer') return false;
    return sameSecret(authorization.slice(space + 1).trim(), this.adminDigest);
  }

  /**
   * Listen. Resolves once the store is loaded and the server accepts connections.
   *
   * @example
   * ```ts
   * await cp.run({ port: 0 });
   * console.log(`ws://127.0.0.1:${cp.port}/ws/<token>`);
   * ```
   */
  async run(options: ControlPlaneRunOptions = {}): Promise<void> {
    if (this.closing)
      throw new ControlPlaneError('run: the control plane has been closed', { code: 'ERR_CONTROL_CLOSED' });
    if (this.adminDigest === undefined)
      throw new ControlPlaneError('run: adminToken is required to serve the admin API and the dashboard', {
        code: 'ERR_CONTROL_OPTIONS',
      });
    await this.ready;
    await this.portal.run({ port: options.port ?? 4000, host: options.host ?? '127.0.0.1', handleSignals: false });
    if (options.handleSignals !== false) {
      this.removeSignalHandlers = installShutdownHandlers(
        {
          decommission: async () => this.hub.stopAccepting(),
          drainAndClose: async () => {
            await this.close();
            return true;
          },
        },
        { log: this.log },
      );
    }
  }

  /** Close sockets (1001), event streams, the server and the store. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const step = async (what: string, fn: () => unknown): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        this.log.error({ err }, `control plane close: ${what} failed`);
      }
    };
    this.removeSignalHandlers?.();
    await step('waiting for the store', () => this.ready.catch(() => undefined));
    await step('waiting for pending changes', () => this.mutex);
    this.unsubscribe();
    await step('closing sockets', () => this.hub.close());
    await step('closing event streams', () => this.feed.close());
    await step('closing the portal', () => this.portal.close({ timeoutMs: 2000 }));
    await step('closing the store', () => this.store.close());
    await step('closing Redis', () => this.redis?.close());
  }

  // ---- cache: every change (local, from another control plane, from a resync) goes through these ----

  private applyProject(project: ProjectRecord): void {
    const text = statusFrame(project);
    this.projectsByName.set(project.name, project);
    this.touched.set(project.name, performance.now());
    if (this.frames.get(project.name)?.text === text) return;
    const buf = Buffer.from(text);
    this.frames.set(project.name, { text, buf });
    this.hub.broadcast(project.name, buf);
    this.feed.changed();
  }

  private applyDeleted(name: string): void {
    this.touched.set(name, performance.now());
    if (!this.projectsByName.delete(name)) return;
    this.frames.delete(name);
    this.hub.revokeProject(name, 'project deleted');
    this.hub.forgetProject(name);
    this.feed.changed();
  }

  private applyTokens(tokens: readonly TokenRecord[]): void {
    const newlyRevoked = new Map<string, Set<string>>();
    for (const t of tokens) {
      const prev = this.tokensByHash.get(t.hash);
      // Revocation is final: an older copy of a token (a reload that raced a revoke) never brings it back.
      if (prev !== undefined && prev.revokedAt !== null && t.revokedAt === null) continue;
      this.tokensByHash.set(t.hash, t);
      if (t.revokedAt !== null && (prev === undefined || prev.revokedAt === null)) {
        const reason = t.revokedReason ?? 'token revoked';
        let set = newlyRevoked.get(reason);
        if (!set) newlyRevoked.set(reason, (set = new Set()));
        set.add(t.hash);
      }
    }
    for (const [reason, hashes] of newlyRevoked) this.hub.revokeTokens(hashes, reason);
    if (tokens.length > 0) this.feed.changed();
  }

  /** Reload everything from the store and apply the differences (start, another process's write, Redis back). */
  private async resync(): Promise<void> {
    const started = performance.now();
    const snapshot = await this.store.loadAll();
    // A change applied while the snapshot was in flight (a pub/sub message, a local write) is newer than it.
    const fresh = (name: string): boolean => (this.touched.get(name) ?? -Infinity) > started;
    const names = new Set(snapshot.projects.map((p) => p.name));
    const stored = new Set(snapshot.tokens.map((t) => t.hash));
    // Tokens are never deleted (a deleted project's stay, revoked), so a token the store lacks was lost with the
    // store's data (Redis restarted without persistence), and so was a project all of whose tokens are gone.
    const lostTokens = [...this.tokensByHash.values()].filter((t) => !stored.has(t.hash) && !fresh(t.project));
    const lostProjects = [...this.projectsByName.values()].filter(
      (p) =>
        !names.has(p.name) &&
        !fresh(p.name) &&
        lostTokens.some((t) => t.project === p.name) &&
        !snapshot.tokens.some((t) => t.project === p.name),
    );
    if (lostTokens.length > 0) {
      this.log.warn(
        { projects: lostProjects.length, tokens: lostTokens.length },
        'control plane: the store lost records (Redis restarted empty?); writing back what this control plane knows',
      );
      await this.store.restore(lostProjects, lostTokens);
    }
    const restored = new Set(lostProjects.map((p) => p.name));
    this.applyTokens(snapshot.tokens);
    for (const p of snapshot.projects) if (!fresh(p.name)) this.applyProject(p);
    for (const name of [...this.projectsByName.keys()])
      if (!names.has(name) && !restored.has(name) && !fresh(name)) this.applyDeleted(name);
  }

  private onStoreEvent(event: StoreEvent): void {
    switch (event.kind) {
      case 'project':
        this.applyProject(event.project);
        break;
      case 'deleted':
        this.applyDeleted(event.name);
        break;
      case 'tokens':
        this.applyTokens(event.tokens);
        break;
      case 'instance':
        this.hub.applyRemote(event.instance);
        this.feed.changed(false);
        break;
      case 'audit':
        this.feed.changed();
        break;
      case 'instance-gone':
        this.feed.changed();
        break;
      case 'resync':
        this.resync().catch((err: unknown) =>
          this.log.warn({ err }, 'control plane: reloading the store failed; serving the last known state'),
        );
        break;
    }
  }

  private onInstance(instance: InstanceInfo, change: 'connected' | 'heartbeat' | 'disconnected'): void {
    // Connections and disconnections show at once; heartbeats only move "last heartbeat", so they can wait a second.
    this.feed.changed(change !== 'heartbeat');
    if (this.store.kind === 'redis') this.store.publish({ kind: 'instance', instance }).catch(() => undefined);
  }

  private async tell(...events: StoreEvent[]): Promise<void> {
    for (const e of events) {
      try {
        await this.store.publish(e);
      } catch (err) {
        // Stored already; the others pick it up at their next resync.
        this.log.warn({ err }, 'control plane: publishing a change failed');
      }
    }
  }

  private async audit(entry: AuditEntry): Promise<void> {
    await this.store.appendAudit(entry);
    this.log.info(
      { project: entry.project, action: entry.action, actor: entry.actor, from: entry.from, to: entry.to },
      `control plane: ${entry.action} ${entry.project}`,
    );
    this.feed.changed();
    await this.tell({ kind: 'audit', entry });
  }

  /** Run one change at a time (each reads the cache, writes the store, then updates the cache). */
  private mutate<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closing)
      return Promise.reject(new ControlPlaneError('The control plane is closed', { code: 'ERR_CONTROL_CLOSED' }));
    const run = this.mutex.then(() => this.ready).then(fn);
    this.mutex = run.catch(() => undefined);
    return run;
  }

  private require(name: string): ProjectRecord {
    const p = this.projectsByName.get(name);
    if (!p) throw new ControlPlaneError(`No project named ${name}`, { code: 'ERR_CONTROL_NOT_FOUND' });
    return p;
  }

  private liveTokens(name: string): TokenRecord[] {
    return [...this.tokensByHash.values()].filter((t) => t.project === name && t.revokedAt === null);
  }

  private view(p: ProjectRecord): ProjectView {
    const tokens = [...this.tokensByHash.values()]
      .filter((t) => t.project === p.name)
      .sort((a, b) => b.createdAt - a.createdAt)
      .map((t) => ({ hint: t.hint, createdAt: t.createdAt, revokedAt: t.revokedAt, revokedReason: t.revokedReason }));
    return { ...p, wire: statusObject(p), tokens, instances: this.hub.instances(p.name) };
  }

  private lookup(token: string): TokenLookup {
    if (!PROJECT_TOKEN_PATTERN.test(token)) return { kind: 'unknown' };
    const t = this.tokensByHash.get(hashToken(token));
    if (!t) return { kind: 'unknown' };
    if (t.revokedAt !== null) return { kind: 'revoked', reason: t.revokedReason ?? 'token revoked' };
    const frame = this.frames.get(t.project);
    if (!frame) return { kind: 'revoked', reason: 'project deleted' };
    return { kind: 'ok', project: t.project, tokenHash: t.hash, frame: frame.buf };
  }

  private lookupStatus(token: string): StatusObject | 'unknown' | 'revoked' {
    const found = this.lookup(token);
    if (found.kind !== 'ok') return found.kind;
    return statusObject(this.require(found.project));
  }

  private async snapshot(): Promise<string> {
    const audit = await this.store.audit({ limit: 50 });
    return JSON.stringify({
      at: Date.now(),
      node: this.node,
      staleAfterMs: 3 * this.options.heartbeatIntervalMs,
      states: LIFECYCLE_STATES,
      failModes: FAIL_MODES,
      projects: this.projects(),
      audit,
    });
  }

  /** The admin token guards everything under /api/admin before the portal reads a byte of the body; the event stream is served here. */
  private wrapRequests(): void {
    const server = this.portal.server;
    const inner = server.listeners('request') as RequestListener[];
    server.removeAllListeners('request');
    const forward = (req: IncomingMessage, res: ServerResponse): void => {
      for (const l of inner) l(req, res);
    };
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const path = routedPath(req.url ?? '/');
      if (path !== undefined && path !== '/api/admin' && !path.startsWith('/api/admin/')) return forward(req, res);
      if (!this.isAdmin(req.headers.authorization))
        return adminAuthProblem(res, req.headers.authorization === undefined);
      if (path === '/api/admin/events' && (req.method === 'GET' || req.method === 'HEAD')) return this.feed.open(res);
      forward(req, res);
    });
  }
}

/**
 * The path as the router will see it, for the admin-token check: absolute-form URLs reduced to their path,
 * query and fragment cut, percent-escapes decoded (the router decodes them too, so `/api/%61dmin` is
 * `/api/admin`), repeated slashes merged, lower-cased. `undefined` when it cannot be read: such a request is
 * treated as an admin request (refused without the token), never waved through.
 */
function routedPath(url: string): string | undefined {
  let path = url;
  if (!path.startsWith('/')) {
    try {
      path = new URL(path).pathname;
    } catch {
      return undefined;
    }
  }
  const cut = path.search(/[?#]/);
  if (cut !== -1) path = path.slice(0, cut);
  try {
    path = decodeURIComponent(path);
  } catch {
    return undefined;
  }
  return path.replace(/\/{2,}/g, '/').toLowerCase();
}
