import type { Logger } from '../logger.js';
import { ControlPlaneError } from './errors.js';
import type { LiveFeed } from './live.js';
import { statusFrame, statusObject, type StatusObject } from './protocol.js';
import type { SocketHub, TokenLookup } from './sockets.js';
import type { ProjectStore, StoreEvent } from './store.js';
import { PROJECT_TOKEN_PATTERN, hashToken } from './tokens.js';
import type { ProjectRecord, TokenRecord } from './types.js';
import type { ProjectView } from './views.js';

/** What the cache tells when it changes: the sockets (frames, revocations) and the dashboard's feed. */
export interface ProjectCacheDeps {
  store: ProjectStore;
  hub: SocketHub;
  feed: LiveFeed;
  log: Logger;
}

/**
 * The control plane's in-memory view of its store: projects by name, tokens by hash and each project's encoded
 * status frame. Every change (local, from another control plane, from a resync) goes through `apply*`, which
 * pushes frames to the project's sockets and revokes the sockets of revoked tokens.
 */
export class ProjectCache {
  private readonly projectsByName = new Map<string, ProjectRecord>();
  private readonly tokensByHash = new Map<string, TokenRecord>();
  private readonly frames = new Map<string, { text: string; buf: Buffer }>();
  /** When (this process's clock) each project name was last changed here, so an older reload never undoes a newer change. */
  private readonly touched = new Map<string, number>();

  constructor(private readonly d: ProjectCacheDeps) {}

  /** Whether a project of that name exists. */
  has(name: string): boolean {
    return this.projectsByName.has(name);
  }

  /** The token with this hash, if known. */
  token(hash: string): TokenRecord | undefined {
    return this.tokensByHash.get(hash);
  }

  /** The project, or `ERR_CONTROL_NOT_FOUND`. */
  require(name: string): ProjectRecord {
    const p = this.projectsByName.get(name);
    if (!p) throw new ControlPlaneError(`No project named ${name}`, { code: 'ERR_CONTROL_NOT_FOUND' });
    return p;
  }

  /** The project's tokens that are not revoked. */
  liveTokens(name: string): TokenRecord[] {
    return [...this.tokensByHash.values()].filter((t) => t.project === name && t.revokedAt === null);
  }

  /** Every project, by name. */
  projects(): ProjectView[] {
    return [...this.projectsByName.values()].sort((a, b) => a.name.localeCompare(b.name)).map((p) => this.view(p));
  }

  /** One project, or `undefined`. */
  project(name: string): ProjectView | undefined {
    const p = this.projectsByName.get(name);
    return p ? this.view(p) : undefined;
  }

  /** A project as the admin API and dashboard show it: token hints, instances and the status object. */
  view(p: ProjectRecord): ProjectView {
    const tokens = [...this.tokensByHash.values()]
      .filter((t) => t.project === p.name)
      .sort((a, b) => b.createdAt - a.createdAt)
      .map((t) => ({ hint: t.hint, createdAt: t.createdAt, revokedAt: t.revokedAt, revokedReason: t.revokedReason }));
    return {
      ...p,
      wire: statusObject(p),
      tokens,
      instances: this.d.hub.instances(p.name),
      instancesOmitted: this.d.hub.omitted(p.name),
    };
  }

  /** What a socket's token opens: its project and frame, or why not. */
  lookup(token: string): TokenLookup {
    if (!PROJECT_TOKEN_PATTERN.test(token)) return { kind: 'unknown' };
    const t = this.tokensByHash.get(hashToken(token));
    if (!t) return { kind: 'unknown' };
    if (t.revokedAt !== null) return { kind: 'revoked', reason: t.revokedReason ?? 'token revoked' };
    const frame = this.frames.get(t.project);
    if (!frame) return { kind: 'revoked', reason: 'project deleted' };
    return { kind: 'ok', project: t.project, tokenHash: t.hash, frame: frame.buf };
  }

  /** What a poll with this token answers. */
  lookupStatus(token: string): StatusObject | 'unknown' | 'revoked' {
    const found = this.lookup(token);
    if (found.kind !== 'ok') return found.kind;
    return statusObject(this.require(found.project));
  }

  /** Take a created or changed project from the store (this control plane or another). */
  applyProject(project: ProjectRecord): void {
    const text = statusFrame(project);
    this.projectsByName.set(project.name, project);
    this.touched.set(project.name, performance.now());
    if (this.frames.get(project.name)?.text === text) return;
    const buf = Buffer.from(text);
    this.frames.set(project.name, { text, buf });
    this.d.hub.broadcast(project.name, buf);
    this.d.feed.changed();
  }

  /** Forget a deleted project. */
  applyDeleted(name: string): void {
    this.touched.set(name, performance.now());
    if (!this.projectsByName.delete(name)) return;
    this.frames.delete(name);
    this.d.hub.revokeProject(name, 'project deleted');
    this.d.hub.forgetProject(name);
    this.d.feed.changed();
  }

  /** Take a project's current tokens from the store. */
  applyTokens(tokens: readonly TokenRecord[]): void {
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
    for (const [reason, hashes] of newlyRevoked) this.d.hub.revokeTokens(hashes, reason);
    if (tokens.length > 0) this.d.feed.changed();
  }

  /** Reload everything from the store and apply the differences (start, another process's write, Redis back). */
  async resync(): Promise<void> {
    const started = performance.now();
    const snapshot = await this.d.store.loadAll();
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
      this.d.log.warn(
        { projects: lostProjects.length, tokens: lostTokens.length },
        'control plane: the store lost records (Redis restarted empty?); writing back what this control plane knows',
      );
      await this.d.store.restore(lostProjects, lostTokens);
    }
    const restored = new Set(lostProjects.map((p) => p.name));
    this.applyTokens(snapshot.tokens);
    for (const p of snapshot.projects) if (!fresh(p.name)) this.applyProject(p);
    for (const name of [...this.projectsByName.keys()])
      if (!names.has(name) && !restored.has(name) && !fresh(name)) this.applyDeleted(name);
  }

  /** Apply a change another control plane (or the store's watcher) reported. */
  onStoreEvent(event: StoreEvent): void {
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
        this.d.hub.applyRemote(event.instance);
        this.d.feed.changed(false);
        break;
      case 'audit':
      case 'instance-gone':
        this.d.feed.changed();
        break;
      case 'resync':
        this.resync().catch((err: unknown) =>
          this.d.log.warn({ err }, 'control plane: reloading the store failed; serving the last known state'),
        );
        break;
    }
  }
}
