/**
 * The running parts of a ControlPlane, loaded when one is constructed (never when gatehouse is imported): the
 * portal serving the admin API, the protocol's HTTP endpoints and the dashboard; the project store (SQLite or
 * Redis); the WebSocket hub; the live feed; and the cache every change goes through.
 */
import { LIFECYCLE_STATES, type LifecycleState } from '../lifecycle/index.js';
import { installShutdownHandlers } from '../lifecycle/internal.js';
import type { Logger } from '../logger.js';
import type { RedisConnections } from '../redis.js';
import type { ServicePortal } from '../servers/index.js';
import { guardAdminRequests } from './admin-gate.js';
import { mountAdminApi, type AdminTarget } from './admin.js';
import { AdminThrottle, type FailureOutcome } from './admin-throttle.js';
import { controlPortal } from './control-portal.js';
import { mountDashboard } from './dashboard.js';
import { ControlPlaneError } from './errors.js';
import { LiveFeed } from './live.js';
import { openStore, type OpenedStore } from './open-store.js';
import type { ResolvedControlPlaneOptions } from './options.js';
import { ProjectCache } from './project-cache.js';
import { statusObject, type StatusObject } from './protocol.js';
import { mountProtocolRoutes } from './routes.js';
import { SocketHub } from './sockets.js';
import type { ProjectStore, StoreEvent } from './store.js';
import { hashToken, issueToken } from './tokens.js';
import {
  FAIL_MODES,
  type AuditEntry,
  type FailMode,
  type InstanceInfo,
  type ProjectRecord,
  type TokenRecord,
} from './types.js';
import { type ProjectView } from './views.js';

/** What the ControlPlane hands its engine. */
export interface EngineSettings {
  options: ResolvedControlPlaneOptions;
  /** The root logger (the portal's). */
  root: Logger;
  /** The control plane's own child logger. */
  log: Logger;
  node: string;
  /** The ControlPlane itself: the admin API calls its checked methods. */
  admin: AdminTarget;
}

/** The control plane at work: one change at a time through the store, the cache, the sockets and the audit log. */
export class ControlPlaneEngine {
  readonly portal: ServicePortal;
  readonly store: ProjectStore;
  readonly hub: SocketHub;
  private readonly redis: RedisConnections | undefined;
  private readonly feed: LiveFeed;
  private readonly cache: ProjectCache;
  private readonly log: Logger;
  private readonly node: string;
  private readonly heartbeatIntervalMs: number;
  private readonly unsubscribe: () => void;
  private readonly storeReady: (timeoutMs: number) => Promise<boolean>;
  private readonly heartbeatPublishMs: number;
  /** Heartbeats waiting to be published (Redis), by instance id: one message per instance per flush. */
  private readonly pendingBeats = new Map<string, InstanceInfo>();
  private beatTimer: NodeJS.Timeout | undefined;
  private mutex: Promise<unknown> = Promise.resolve();
  private closed = false;

  /** Open the store, build the portal and mount every route (the dashboard's files are read here). */
  static async create(s: EngineSettings): Promise<ControlPlaneEngine> {
    const engine = new ControlPlaneEngine(s, await openStore(s.options, s.node, s.log));
    try {
      await mountDashboard(engine.portal);
    } catch (err) {
      await engine.close();
      throw err;
    }
    return engine;
  }

  private constructor(s: EngineSettings, opened: OpenedStore) {
    const o = s.options;
    const store = opened.store;
    this.storeReady = opened.ready;
    this.log = s.log;
    this.node = s.node;
    this.heartbeatIntervalMs = o.heartbeatIntervalMs;
    this.heartbeatPublishMs = o.heartbeatPublishMs;
    this.store = store;
    this.redis = opened.redis;
    this.portal = controlPortal(o, s.root);
    this.portal.addCheck('store', () => {
      const h = this.store.health();
      return h.ok ? { state: 'OK', detail: this.store.kind } : { state: 'RED', detail: h.reason };
    });
    this.portal.addStatusField('sockets', () => this.hub.size);
    this.hub = new SocketHub({
      lookup: (token) => this.cache.lookup(token),
      clientIp: (req) => this.portal.clientIp(req),
      onInstance: (instance, change) => this.onInstance(instance, change),
      node: this.node,
      heartbeatIntervalMs: o.heartbeatIntervalMs,
      instanceRetentionMs: o.instanceRetentionMs,
      maxPayloadBytes: o.maxPayloadBytes,
      maxDisconnectedInstances: o.maxDisconnectedInstances,
      maxSocketsPerToken: o.maxSocketsPerToken,
      messageBudget: o.socketMessageBudget,
      log: this.log,
    });
    this.feed = new LiveFeed({
      snapshot: () => this.snapshot(),
      debounceMs: 50,
      slowMs: 1000,
      refreshMs: Math.min(5000, o.heartbeatIntervalMs),
      log: this.log,
    });
    this.cache = new ProjectCache({ store, hub: this.hub, feed: this.feed, log: this.log });
    this.unsubscribe = this.store.subscribe((event) => this.cache.onStoreEvent(event));
    mountProtocolRoutes(this.portal, {
      lookup: (token) => this.cache.lookupStatus(token),
      versions: () => o.sdkVersions,
    });
    mountAdminApi(this.portal, s.admin);
    const throttle = new AdminThrottle(o.adminThrottle);
    guardAdminRequests(this.portal.server, {
      isAdmin: (authorization) => s.admin.isAdmin(authorization),
      openEvents: (res) => this.feed.open(res),
      clientIp: (req) => this.portal.clientIp(req),
      throttle,
      onBadToken: (ip, outcome) => this.onBadAdminToken(ip, outcome),
    });
    this.portal.server.on('upgrade', this.hub.onUpgrade);
  }

  /** Wait for the store (Redis must answer within 3 s) and load it into the cache. */
  async start(): Promise<void> {
    if (!(await this.storeReady(3000))) {
      throw new ControlPlaneError(
        `The control plane cannot reach Redis: ${this.store.health().reason ?? 'unknown reason'}`,
        { code: 'ERR_CONTROL_STORE' },
      );
    }
    await this.cache.resync();
  }

  /** Create a project with its first token (audited); `ERR_CONTROL_CONFLICT` when the name is taken. */
  async createProject(
    name: string,
    failMode: FailMode,
    actor: string,
  ): Promise<{ token: string; project: ProjectView }> {
    return this.mutate(async () => {
      if (this.cache.has(name))
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
      const { token, record } = issueToken(name, now);
      await this.store.insertProject(project, record);
      this.cache.applyTokens([record]);
      this.cache.applyProject(project);
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
      return { token, project: this.cache.view(project) };
    });
  }

  /** Set a project's status (and message) and push it to its sockets (audited). */
  async setStatus(
    name: string,
    state: LifecycleState,
    message: string | null | undefined,
    retry: number | null | undefined,
    actor: string,
  ): Promise<ProjectView> {
    return this.mutate(async () => {
      const prev = this.cache.require(name);
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
      const detail = message ? message : retry != null ? `retry after ${retry} s` : null;
      return this.saveProject(prev, next, { action: 'status', from: prev.state, to: state, detail });
    });
  }

  /** Set a project's fail mode and push it to its sockets (audited). */
  async setFailMode(name: string, failMode: FailMode, actor: string): Promise<ProjectView> {
    return this.mutate(async () => {
      const prev = this.cache.require(name);
      const next: ProjectRecord = { ...prev, failMode, updatedAt: Date.now(), updatedBy: actor };
      return this.saveProject(prev, next, { action: 'fail-mode', from: prev.failMode, to: failMode, detail: null });
    });
  }

  /** Issue a new project token and revoke the project's live ones (audited); resolves the new token. */
  async rotateToken(name: string, actor: string): Promise<{ token: string }> {
    return this.mutate(async () => {
      this.cache.require(name);
      const now = Date.now();
      const { token, record } = issueToken(name, now);
      const old = this.cache.liveTokens(name).map((t) => ({ ...t, revokedAt: now, revokedReason: 'token rotated' }));
      await this.store.addToken(record);
      await this.store.revokeTokens(old);
      this.cache.applyTokens([record, ...old]);
      const from = old.map((t) => t.hint).join(', ') || null;
      await this.audit({ at: now, actor, project: name, action: 'token.rotate', from, to: record.hint });
      await this.tell({ kind: 'tokens', tokens: [record, ...old] });
      return { token };
    });
  }

  /** Revoke one token and close the sockets that used it (audited). */
  async revokeToken(token: string, actor: string): Promise<void> {
    await this.mutate(async () => {
      const found = this.cache.token(hashToken(token));
      if (!found) throw new ControlPlaneError('No such token', { code: 'ERR_CONTROL_NOT_FOUND' });
      if (found.revokedAt !== null) return;
      await this.revoke([found], actor);
    });
  }

  /** Revoke every token of a project and close its sockets (audited); resolves how many were revoked. */
  async revokeProjectTokens(name: string, actor: string): Promise<number> {
    return this.mutate(async () => {
      this.cache.require(name);
      const live = this.cache.liveTokens(name);
      if (live.length > 0) await this.revoke(live, actor);
      return live.length;
    });
  }

  /** Delete a project, its tokens and its instances, closing its sockets (audited). */
  async deleteProject(name: string, actor: string): Promise<void> {
    await this.mutate(async () => {
      const prev = this.cache.require(name);
      const now = Date.now();
      const revoked = await this.store.deleteProject(name, now, 'project deleted');
      this.cache.applyTokens(revoked);
      this.cache.applyDeleted(name);
      await this.audit({ at: now, actor, project: name, action: 'project.delete', from: prev.state });
      await this.tell({ kind: 'tokens', tokens: revoked }, { kind: 'deleted', name });
    });
  }

  /** Every project as the admin API shows it, from the cache. */
  projects(): ProjectView[] {
    return this.cache.projects();
  }

  /** One project as the admin API shows it, or undefined. */
  project(name: string): ProjectView | undefined {
    return this.cache.project(name);
  }

  /** What a project's clients are told right now; `ERR_CONTROL_NOT_FOUND` for an unknown project. */
  status(name: string): StatusObject {
    return statusObject(this.cache.require(name));
  }

  /** SIGTERM/SIGINT: stop accepting sockets, then `close`; returns the function that removes the handlers. */
  handleSignals(close: () => Promise<void>): () => void {
    return installShutdownHandlers(
      {
        decommission: async () => this.hub.stopAccepting(),
        drainAndClose: async () => {
          await close();
          return true;
        },
      },
      { log: this.log },
    );
  }

  /** The newest audit entries, of one project or of all, at most `limit`. */
  auditLog(project: string | undefined, limit: number): Promise<AuditEntry[]> {
    return this.store.audit({ project, limit });
  }

  /** Close sockets (1001), event streams, the server and the store. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const step = async (what: string, fn: () => unknown): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        this.log.error({ err }, `control plane close: ${what} failed`);
      }
    };
    await step('waiting for pending changes', () => this.mutex);
    this.unsubscribe();
    clearTimeout(this.beatTimer);
    this.pendingBeats.clear();
    await step('closing sockets', () => this.hub.close());
    await step('closing event streams', () => this.feed.close());
    await step('closing the portal', () => this.portal.close({ timeoutMs: 2000 }));
    await step('closing the store', () => this.store.close());
    await step('closing Redis', () => this.redis?.close());
  }

  private async saveProject(
    prev: ProjectRecord,
    next: ProjectRecord,
    change: Pick<AuditEntry, 'action' | 'from' | 'to' | 'detail'>,
  ): Promise<ProjectView> {
    await this.store.saveProject(next);
    this.cache.applyProject(next);
    await this.audit({ at: next.updatedAt, actor: next.updatedBy, project: prev.name, ...change });
    await this.tell({ kind: 'project', project: next });
    return this.cache.view(next);
  }

  private async revoke(tokens: TokenRecord[], actor: string): Promise<void> {
    const now = Date.now();
    const revoked = tokens.map((t) => ({ ...t, revokedAt: now, revokedReason: 'token revoked' }));
    await this.store.revokeTokens(revoked);
    this.cache.applyTokens(revoked);
    for (const t of revoked)
      await this.audit({ at: now, actor, project: t.project, action: 'token.revoke', from: t.hint });
    await this.tell({ kind: 'tokens', tokens: revoked });
  }

  private onInstance(instance: InstanceInfo, change: 'connected' | 'heartbeat' | 'disconnected'): void {
    // Connections and disconnections show at once; heartbeats only move "last heartbeat", so they can wait a second.
    this.feed.changed(change !== 'heartbeat');
    if (this.store.kind !== 'redis') return;
    if (change === 'heartbeat' && this.heartbeatPublishMs > 0) {
      // Coalesced: however many heartbeats an instance sends, the others hear of it once per heartbeatPublishMs.
      this.pendingBeats.set(instance.id, { ...instance });
      this.beatTimer ??= setTimeout(() => this.flushBeats(), this.heartbeatPublishMs);
      this.beatTimer.unref();
      return;
    }
    // A heartbeat still waiting would arrive after this connect/disconnect and undo it.
    this.pendingBeats.delete(instance.id);
    this.store.publish({ kind: 'instance', instance }).catch(() => undefined);
  }

  private flushBeats(): void {
    this.beatTimer = undefined;
    if (this.closed) return;
    const beats = [...this.pendingBeats.values()];
    this.pendingBeats.clear();
    for (const instance of beats) this.store.publish({ kind: 'instance', instance }).catch(() => undefined);
  }

  /** A bad admin token was checked: a warn line and an audit entry (the throttle keeps both to a trickle per address). */
  private onBadAdminToken(ip: string, outcome: FailureOutcome): void {
    if (this.closed) return;
    const at = Date.now();
    const actor = `admin api ${ip}`;
    this.log.warn(
      { ip, failures: outcome.failures, slowed: outcome.slowedNow, locked: outcome.lockedNow },
      outcome.lockedNow
        ? `control plane: bad admin token from ${ip}; locked out after ${outcome.failures} bad tokens`
        : `control plane: bad admin token from ${ip} (${outcome.failures} in the window)`,
    );
    const entries: AuditEntry[] = [
      { at, actor, project: '', action: 'admin.auth-failed', from: null, to: null, detail: `${outcome.failures}` },
    ];
    if (outcome.lockedNow)
      entries.push({ at, actor, project: '', action: 'admin.locked-out', from: null, to: null, detail: null });
    void (async () => {
      for (const entry of entries) {
        await this.store.appendAudit(entry);
        this.feed.changed();
        await this.tell({ kind: 'audit', entry });
      }
    })().catch((err: unknown) => this.log.warn({ err }, 'control plane: auditing a bad admin token failed'));
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

  /** Record a change (`to` and `detail` are null unless given), log it and tell the dashboards and peers. */
  private async audit(
    change: Omit<AuditEntry, 'to' | 'detail'> & Partial<Pick<AuditEntry, 'to' | 'detail'>>,
  ): Promise<void> {
    const entry: AuditEntry = { ...change, to: change.to ?? null, detail: change.detail ?? null };
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
    if (this.closed)
      return Promise.reject(new ControlPlaneError('The control plane is closed', { code: 'ERR_CONTROL_CLOSED' }));
    const run = this.mutex.then(fn);
    this.mutex = run.catch(() => undefined);
    return run;
  }

  private async snapshot(): Promise<string> {
    const audit = await this.store.audit({ limit: 50 });
    return JSON.stringify({
      at: Date.now(),
      node: this.node,
      staleAfterMs: 3 * this.heartbeatIntervalMs,
      states: LIFECYCLE_STATES,
      failModes: FAIL_MODES,
      projects: this.cache.projects(),
      audit,
    });
  }
}
