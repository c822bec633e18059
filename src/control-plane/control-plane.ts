import { hostname } from 'node:os';
import type { LifecycleState } from '../lifecycle/index.js';
import { createLogger, type Logger } from '../logger.js';
import type { ServicePortal } from '../servers/index.js';
import type { AdminTarget } from './admin.js';
import type { ControlPlaneEngine } from './engine.js';
import { ControlPlaneError } from './errors.js';
import { checkActor, checkFailMode, checkName, checkStatusChange, inputError } from './input.js';
import { resolveControlPlaneOptions, type ControlPlaneOptions, type ResolvedControlPlaneOptions } from './options.js';
import type { SdkVersionEntry } from './protocol.js';
import { PROJECT_TOKEN_PATTERN, sameSecret, secretDigest } from './tokens.js';
import type { AuditEntry, FailMode, InstanceInfo } from './types.js';
import type {
  ActorOption,
  ControlPlaneRunOptions,
  CreateProjectOptions,
  ProjectStatus,
  ProjectView,
  SetProjectStatusOptions,
} from './views.js';
import { nodeCrypto } from '../load.js';

/**
 * A self-hosted, PXControl-compatible control plane: projects with tokens (stored hashed), one switch per project
 * for the five lifecycle states with messages and fail mode, every connected instance with its heartbeat, an
 * admin HTTP API (bearer admin token, problem+json, OpenAPI at `/openapi.json`), an audit log and a live
 * dashboard at `/`. Stock PXControl SDKs and gatehouse's remote lifecycle source connect to `/ws/{token}`.
 *
 * This class is light: it resolves the options and checks what callers pass. The running parts (the portal, the
 * store, the sockets, the admin API and the dashboard) load when it is constructed, in the background; every
 * method waits for them.
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
  /** Id of this control-plane process (host:pid:random), shown next to the instances it holds. */
  readonly node: string;
  /** The control plane's logger. */
  readonly log: Logger;

  private readonly options: ResolvedControlPlaneOptions;
  private readonly adminDigest: Buffer | undefined;
  private readonly ready: Promise<ControlPlaneEngine>;
  private engine: ControlPlaneEngine | undefined;
  private removeSignalHandlers: (() => void) | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: ControlPlaneOptions = {}) {
    const o = resolveControlPlaneOptions(options);
    this.options = o;
    const root = o.logger ?? createLogger({ base: { service: o.name } });
    this.log = root.child({ component: 'control-plane' });
    this.node = `${hostname()}:${process.pid}:${nodeCrypto().randomBytes(3).toString('hex')}`;
    this.adminDigest = o.adminToken === undefined ? undefined : secretDigest(o.adminToken);
    this.ready = this.load(root);
    // Callers see failures through the methods (each awaits ready); this keeps the promise from being unhandled.
    this.ready.catch((err: unknown) => this.log.error({ err }, 'control plane: loading the store failed'));
  }

  /** The portal serving the admin API, the protocol's HTTP endpoints and the dashboard; `undefined` until loaded. */
  get portal(): ServicePortal | undefined {
    return this.engine?.portal;
  }

  /** The bound port, once `run()` has resolved. */
  get port(): number {
    return this.engine?.portal.port ?? 0;
  }

  /** Which store runs: `'sqlite'` (under dataDir) or `'redis'`. */
  get storeKind(): 'sqlite' | 'redis' {
    return this.options.redis === undefined ? 'sqlite' : 'redis';
  }

  /** The heartbeat interval clients are expected to use, in ms (stale after 3). */
  get heartbeatIntervalMs(): number {
    return this.options.heartbeatIntervalMs;
  }

  /** The version catalogue served at `/api/v1/sdk/versions`. */
  get sdkVersions(): { node: SdkVersionEntry; python: SdkVersionEntry; gatehouse: SdkVersionEntry } {
    return this.options.sdkVersions;
  }

  /** Load the running parts (the control plane's code, the portal, the store) and read the store. */
  private async load(root: Logger): Promise<ControlPlaneEngine> {
    const { ControlPlaneEngine } = await import('./engine.js');
    const engine = await ControlPlaneEngine.create({
      options: this.options,
      root,
      log: this.log,
      node: this.node,
      admin: this,
    });
    this.engine = engine;
    await engine.start();
    return engine;
  }

  /** The engine, once loaded; refused once the control plane is closing. */
  private started(): Promise<ControlPlaneEngine> {
    if (this.closing)
      return Promise.reject(new ControlPlaneError('The control plane is closed', { code: 'ERR_CONTROL_CLOSED' }));
    return this.ready;
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
    return (await this.started()).createProject(name, failMode, actor);
  }

  /**
   * Set a project's state; every connected instance gets a status frame at once (MAINTENANCE reaches stock SDKs
   * as PAUSED with the maintenance message).
   */
  async setStatus(name: string, state: LifecycleState, options: SetProjectStatusOptions = {}): Promise<ProjectView> {
    checkName(name);
    checkStatusChange(state, options);
    const actor = checkActor(options.actor);
    return (await this.started()).setStatus(name, state, options.message, options.retryAfterSec, actor);
  }

  /** Set a project's fail mode (sent to its clients in `fail_mode`). */
  async setFailMode(name: string, failMode: FailMode, options: ActorOption = {}): Promise<ProjectView> {
    checkName(name);
    checkFailMode(failMode);
    const actor = checkActor(options.actor);
    return (await this.started()).setFailMode(name, failMode, actor);
  }

  /** Issue a new token for a project and revoke the ones it had (their sockets get `revoked` and close 4002). Returns the new token, once. */
  async rotateToken(name: string, options: ActorOption = {}): Promise<{ token: string }> {
    checkName(name);
    const actor = checkActor(options.actor);
    return (await this.started()).rotateToken(name, actor);
  }

  /** Revoke one token: its sockets get a `revoked` frame and close 4002, its polls answer 403. Rejects `ERR_CONTROL_NOT_FOUND` for an unknown token. */
  async revokeToken(token: string, options: ActorOption = {}): Promise<void> {
    if (typeof token !== 'string' || !PROJECT_TOKEN_PATTERN.test(token))
      throw inputError('token must be a project token (px_...)');
    const actor = checkActor(options.actor);
    return (await this.started()).revokeToken(token, actor);
  }

  /** Revoke every valid token of a project (until `rotateToken` issues a new one). */
  async revokeProjectTokens(name: string, options: ActorOption = {}): Promise<number> {
    checkName(name);
    const actor = checkActor(options.actor);
    return (await this.started()).revokeProjectTokens(name, actor);
  }

  /** Delete a project: its tokens are revoked and its sockets closed (4002). */
  async deleteProject(name: string, options: ActorOption = {}): Promise<void> {
    checkName(name);
    const actor = checkActor(options.actor);
    return (await this.started()).deleteProject(name, actor);
  }

  /** Every project, by name, with tokens (hints only) and instances (none until the store has loaded). */
  projects(): ProjectView[] {
    return this.engine?.projects() ?? [];
  }

  /** One project, or `undefined`. */
  project(name: string): ProjectView | undefined {
    return this.engine?.project(name);
  }

  /** What a project's clients are told right now (the poll answer). Throws `ERR_CONTROL_NOT_FOUND` for an unknown project. */
  status(name: string): ProjectStatus {
    if (!this.engine) throw new ControlPlaneError(`No project named ${name}`, { code: 'ERR_CONTROL_NOT_FOUND' });
    return this.engine.status(name);
  }

  /**
   * The instances of a project: one per socket, with SDK version, language and env from its heartbeats,
   * `lastSeenAt`, `connected`, and `stale` once silent for 3 heartbeat intervals. Closed sockets stay listed
   * (connected: false) for `instanceRetentionMs`, the newest `maxDisconnectedInstances` per project (the project
   * view counts the others in `instancesOmitted`). With Redis, other control planes' instances are included.
   */
  instances(name: string): InstanceInfo[] {
    return this.engine?.hub.instances(name) ?? [];
  }

  /** The audit log, newest first. */
  async auditLog(options: { project?: string; limit?: number } = {}): Promise<AuditEntry[]> {
    const engine = await this.ready;
    const limit = options.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw inputError('limit must be a whole number from 1 to 1000');
    if (options.project !== undefined) checkName(options.project);
    return engine.auditLog(options.project, limit);
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
    const engine = await this.ready;
    await engine.portal.run({ port: options.port ?? 4000, host: options.host ?? '127.0.0.1', handleSignals: false });
    if (options.handleSignals !== false) this.removeSignalHandlers = engine.handleSignals(() => this.close());
  }

  /** Close sockets (1001), event streams, the server and the store. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.removeSignalHandlers?.();
    // A store that failed to load still has connections and a portal to release.
    await this.ready.catch(() => undefined);
    await this.engine?.close();
  }
}
