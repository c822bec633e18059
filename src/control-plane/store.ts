import type { AuditEntry, InstanceInfo, ProjectRecord, TokenRecord } from './types.js';

/**
 * A change one control-plane process tells the others about. Receivers apply it to their own cache and push
 * status frames to their own sockets; `resync` asks them to reload everything from the store and diff.
 */
export type StoreEvent =
  | { kind: 'project'; project: ProjectRecord }
  | { kind: 'deleted'; name: string }
  | { kind: 'tokens'; tokens: TokenRecord[] }
  | { kind: 'instance'; instance: InstanceInfo }
  | { kind: 'instance-gone'; id: string }
  | { kind: 'audit'; entry: AuditEntry }
  | { kind: 'resync' };

/** Everything the cache holds, as loaded from the store. */
export interface StoreSnapshot {
  projects: ProjectRecord[];
  tokens: TokenRecord[];
}

/**
 * Where projects, tokens and the audit log live: SQLite under `dataDir` (one host) or Redis (several control
 * planes behind one load balancer). Nothing above this interface knows which one runs.
 */
export interface ProjectStore {
  /** `'sqlite'` or `'redis'`, for `/status` and logs. */
  readonly kind: 'sqlite' | 'redis';
  /** Everything, for the in-memory cache and reconciliation. */
  loadAll(): Promise<StoreSnapshot>;
  /** Insert a new project with its first token; rejects `ERR_CONTROL_CONFLICT` when the name is taken. */
  insertProject(project: ProjectRecord, token: TokenRecord): Promise<void>;
  /** Overwrite a project's record. */
  saveProject(project: ProjectRecord): Promise<void>;
  /** Delete a project and revoke its tokens; resolves to the tokens it revoked. */
  deleteProject(name: string, at: number, reason: string): Promise<TokenRecord[]>;
  /** Add a token. */
  addToken(token: TokenRecord): Promise<void>;
  /** Mark tokens revoked. */
  revokeTokens(tokens: readonly TokenRecord[]): Promise<void>;
  /** Write back records the store has lost (Redis restarted empty); records it still has are left alone. */
  restore(projects: readonly ProjectRecord[], tokens: readonly TokenRecord[]): Promise<void>;
  /** Append to the audit log. */
  appendAudit(entry: AuditEntry): Promise<void>;
  /** The newest audit entries first, optionally of one project. */
  audit(options: { project?: string | undefined; limit: number }): Promise<AuditEntry[]>;
  /** Tell the other control-plane processes sharing this store. */
  publish(event: StoreEvent): Promise<void>;
  /** Hear what the others publish (and `resync` when the store changed behind this process's back). */
  subscribe(listener: (event: StoreEvent) => void): () => void;
  /** Whether the store answers right now, with the reason when it does not. */
  health(): { ok: boolean; reason?: string };
  /** Release connections, timers and handles. Safe to call twice. */
  close(): Promise<void>;
}
