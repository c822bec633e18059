import type { Logger } from '../logger.js';
import type { RedisConnections } from '../redis.js';
import { ControlPlaneError } from './errors.js';
import type { ProjectStore, StoreEvent, StoreSnapshot } from './store.js';
import type { AuditEntry, ProjectRecord, TokenRecord } from './types.js';

/** Options of {@link RedisProjectStore}. */
export interface RedisProjectStoreOptions {
  /** The connections (command + subscriber) and key prefix. */
  redis: RedisConnections;
  /** Id of this control-plane process: its own events are not delivered back to it. */
  node: string;
  /** Most audit entries kept. */
  auditLimit: number;
  /** How often everything is reloaded, to heal a missed pub/sub message, in ms. */
  resyncIntervalMs: number;
  log: Logger;
}

interface Envelope {
  node: string;
  event: StoreEvent;
}

/**
 * Projects, tokens and the audit log in Redis (hashes `projects` and `tokens`, list `audit` under the key
 * prefix), and changes pushed to every control plane on the channel `events`. A control plane that missed
 * messages (Redis was away) reloads on reconnect and every `resyncIntervalMs`.
 */
export class RedisProjectStore implements ProjectStore {
  readonly kind = 'redis' as const;
  private readonly redis: RedisConnections;
  private readonly node: string;
  private readonly auditLimit: number;
  private readonly listeners = new Set<(event: StoreEvent) => void>();
  private readonly detach: Array<() => void> = [];
  private readonly timer: NodeJS.Timeout;
  private readonly log: Logger;
  private closed = false;

  constructor(options: RedisProjectStoreOptions) {
    this.redis = options.redis;
    this.node = options.node;
    this.auditLimit = options.auditLimit;
    this.log = options.log;
    this.detach.push(this.redis.subscribe(this.redis.key('events'), (message) => this.onMessage(message)));
    this.detach.push(this.redis.onHealth((up) => up && this.emit({ kind: 'resync' })));
    this.timer = setInterval(() => this.emit({ kind: 'resync' }), options.resyncIntervalMs);
    this.timer.unref();
  }

  /** Wait (up to `timeoutMs`) for Redis to answer; resolves whether it does. */
  ready(timeoutMs: number): Promise<boolean> {
    return this.redis.whenHealthy(timeoutMs);
  }

  /** Every project and token, for the cache and reconciliation. */
  async loadAll(): Promise<StoreSnapshot> {
    const [projects, tokens] = await this.run(() =>
      Promise.all([
        this.redis.command.hgetall(this.redis.key('projects')),
        this.redis.command.hgetall(this.redis.key('tokens')),
      ]),
    );
    return {
      projects: Object.values(projects)
        .map((v) => JSON.parse(v) as ProjectRecord)
        .sort((a, b) => a.name.localeCompare(b.name)),
      tokens: Object.values(tokens).map((v) => JSON.parse(v) as TokenRecord),
    };
  }

  /** Insert a new project with its first token; rejects `ERR_CONTROL_CONFLICT` when the name is taken. */
  async insertProject(project: ProjectRecord, token: TokenRecord): Promise<void> {
    const added = await this.run(() =>
      this.redis.command.hsetnx(this.redis.key('projects'), project.name, JSON.stringify(project)),
    );
    if (added === 0)
      throw new ControlPlaneError(`A project named ${project.name} exists already`, { code: 'ERR_CONTROL_CONFLICT' });
    await this.addToken(token);
  }

  /** Overwrite a project's record. */
  async saveProject(project: ProjectRecord): Promise<void> {
    await this.run(() => this.redis.command.hset(this.redis.key('projects'), project.name, JSON.stringify(project)));
  }

  /** Delete a project and revoke its tokens; resolves to the tokens it revoked. */
  async deleteProject(name: string, at: number, reason: string): Promise<TokenRecord[]> {
    await this.run(() => this.redis.command.hdel(this.redis.key('projects'), name));
    const all = await this.run(() => this.redis.command.hgetall(this.redis.key('tokens')));
    const revoked = Object.values(all)
      .map((v) => JSON.parse(v) as TokenRecord)
      .filter((t) => t.project === name && t.revokedAt === null)
      .map((t) => ({ ...t, revokedAt: at, revokedReason: reason }));
    await this.revokeTokens(revoked);
    return revoked;
  }

  /** Add a token (hash only). */
  async addToken(token: TokenRecord): Promise<void> {
    await this.run(() => this.redis.command.hset(this.redis.key('tokens'), token.hash, JSON.stringify(token)));
  }

  /** Mark tokens revoked, with when and why. */
  async revokeTokens(tokens: readonly TokenRecord[]): Promise<void> {
    if (tokens.length === 0) return;
    const fields: string[] = [];
    for (const t of tokens) fields.push(t.hash, JSON.stringify(t));
    await this.run(() => this.redis.command.hset(this.redis.key('tokens'), ...fields));
  }

  /** Write back lost records with HSETNX, so a record Redis has (perhaps newer) is never overwritten. */
  async restore(projects: readonly ProjectRecord[], tokens: readonly TokenRecord[]): Promise<void> {
    const pipeline = this.redis.command.pipeline();
    for (const p of projects) pipeline.hsetnx(this.redis.key('projects'), p.name, JSON.stringify(p));
    for (const t of tokens) pipeline.hsetnx(this.redis.key('tokens'), t.hash, JSON.stringify(t));
    await this.run(() => pipeline.exec());
  }

  /** Append one entry to the audit log. */
  async appendAudit(entry: AuditEntry): Promise<void> {
    const key = this.redis.key('audit');
    await this.run(() =>
      this.redis.command
        .multi()
        .lpush(key, JSON.stringify(entry))
        .ltrim(key, 0, this.auditLimit - 1)
        .exec(),
    );
  }

  /** The newest audit entries first, optionally of one project. */
  async audit(options: { project?: string | undefined; limit: number }): Promise<AuditEntry[]> {
    // The list is capped at auditLimit, so reading it whole to filter by project stays small.
    const raw = await this.run(() =>
      this.redis.command.lrange(this.redis.key('audit'), 0, options.project === undefined ? options.limit - 1 : -1),
    );
    const entries = raw.map((v) => JSON.parse(v) as AuditEntry);
    return (options.project === undefined ? entries : entries.filter((e) => e.project === options.project)).slice(
      0,
      options.limit,
    );
  }

  /** Tell the other control planes sharing this store about a change. */
  async publish(event: StoreEvent): Promise<void> {
    await this.run(() =>
      this.redis.command.publish(
        this.redis.key('events'),
        JSON.stringify({ node: this.node, event } satisfies Envelope),
      ),
    );
  }

  /** Hear what the other control planes publish; returns an unsubscribe function. */
  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Whether the store answers right now, with the reason when it does not. */
  health(): { ok: boolean; reason?: string } {
    const reason = this.redis.reason;
    return reason === undefined ? { ok: true } : { ok: false, reason };
  }

  /** Release connections, timers and handles. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    for (const d of this.detach.splice(0)) d();
    this.listeners.clear();
  }

  private onMessage(message: string): void {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(message) as Envelope;
    } catch {
      this.log.warn('control plane: an unreadable message on the events channel');
      return;
    }
    if (envelope.node === this.node || typeof envelope.event?.kind !== 'string') return;
    this.emit(envelope.event);
  }

  private emit(event: StoreEvent): void {
    if (this.closed) return;
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (err) {
        this.log.error({ err }, 'control plane: a store listener failed');
      }
    }
  }

  private async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new ControlPlaneError('The control plane store is closed', { code: 'ERR_CONTROL_CLOSED' });
    try {
      return await fn();
    } catch (err) {
      if (err instanceof ControlPlaneError) throw err;
      throw new ControlPlaneError(`The control plane store (Redis) failed: ${(err as Error).message}`, {
        code: 'ERR_CONTROL_STORE',
        cause: err,
      });
    }
  }
}
