import { join } from 'node:path';
import { Database, DatabaseError } from '../database/index.js';
import { ControlPlaneError } from './errors.js';
import type { ProjectStore, StoreEvent, StoreSnapshot } from './store.js';
import type { AuditAction, AuditEntry, ProjectRecord, TokenRecord } from './types.js';

/** The control plane's SQLite file under `dataDir`. */
export const CONTROL_DB_FILE = 'gatehouse-control.db';

const TABLES = {
  control_projects:
    'name TEXT PRIMARY KEY, state TEXT NOT NULL, fail_mode TEXT NOT NULL, pause_message TEXT, maintenance_message TEXT, offline_message TEXT, retry_after_sec INTEGER, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, updated_by TEXT NOT NULL',
  control_tokens:
    'hash TEXT PRIMARY KEY, project TEXT NOT NULL, hint TEXT NOT NULL, created_at INTEGER NOT NULL, revoked_at INTEGER, revoked_reason TEXT',
  control_audit:
    'id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, actor TEXT NOT NULL, project TEXT NOT NULL, action TEXT NOT NULL, from_value TEXT, to_value TEXT, detail TEXT',
};

/** A row as SQLite returns it (snake_case columns). */
type Row = Record<string, unknown>;

interface AuditRow {
  at: number;
  actor: string;
  project: string;
  action: string;
  from_value: string | null;
  to_value: string | null;
  detail: string | null;
  [key: string]: unknown;
}

/** A record's fields as columns (`failMode` → `fail_mode`): the tables name their columns after the records' fields. */
function toRow(record: ProjectRecord | TokenRecord): Row {
  const row: Row = {};
  for (const [key, value] of Object.entries(record)) row[key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = value;
  return row;
}

/** The record of a row (`fail_mode` → `failMode`); the column types are the fields' types (TABLES). */
function fromRow<T extends ProjectRecord | TokenRecord>(row: Row): T {
  const record: Row = {};
  for (const [key, value] of Object.entries(row))
    record[key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())] = value;
  return record as T;
}

/** Options of {@link SqliteProjectStore}. */
export interface SqliteProjectStoreOptions {
  /** Directory of `gatehouse-control.db`. */
  dataDir: string;
  /** How often another process's commits are looked for (`PRAGMA data_version`), in ms; 0 turns it off. */
  watchIntervalMs: number;
}

/**
 * Projects, tokens and the audit log in `<dataDir>/gatehouse-control.db`, through the Database layer. Another
 * process writing the file (the `gatehouse control-plane project ...` CLI) is noticed through SQLite's
 * `data_version` and answered with a `resync`.
 */
export class SqliteProjectStore implements ProjectStore {
  readonly kind = 'sqlite' as const;
  private readonly db: Database;
  private readonly listeners = new Set<(event: StoreEvent) => void>();
  private readonly timer: NodeJS.Timeout | undefined;
  private dataVersion: number;
  private closed = false;

  constructor(options: SqliteProjectStoreOptions) {
    this.db = new Database({ path: join(options.dataDir, CONTROL_DB_FILE), tables: TABLES, durability: 'full' });
    this.db.execute('CREATE INDEX IF NOT EXISTS control_tokens_project ON control_tokens (project)');
    this.db.execute('CREATE INDEX IF NOT EXISTS control_audit_project ON control_audit (project, id)');
    this.dataVersion = this.readVersion();
    if (options.watchIntervalMs > 0) {
      this.timer = setInterval(() => this.poll(), options.watchIntervalMs);
      this.timer.unref();
    }
  }

  /** Every project and token, for the cache and reconciliation. */
  loadAll(): Promise<StoreSnapshot> {
    return this.run(() => ({
      projects: this.db.fetch('control_projects', { orderBy: 'name' }).map((r) => fromRow<ProjectRecord>(r)),
      tokens: this.db.fetch('control_tokens').map((r) => fromRow<TokenRecord>(r)),
    }));
  }

  /** Insert a new project with its first token; rejects `ERR_CONTROL_CONFLICT` when the name is taken. */
  insertProject(project: ProjectRecord, token: TokenRecord): Promise<void> {
    return this.run(() =>
      this.db.transaction((db) => {
        if (db.count('control_projects', { name: project.name }) > 0)
          throw new ControlPlaneError(`A project named ${project.name} exists already`, {
            code: 'ERR_CONTROL_CONFLICT',
          });
        db.insert('control_projects', toRow(project));
        db.insert('control_tokens', toRow(token));
      }),
    );
  }

  /** Overwrite a project's record. */
  saveProject(project: ProjectRecord): Promise<void> {
    return this.run(() => {
      const { name, ...changes } = toRow(project);
      this.db.update('control_projects', changes, { name });
    });
  }

  /** Delete a project and revoke its tokens; resolves to the tokens it revoked. */
  deleteProject(name: string, at: number, reason: string): Promise<TokenRecord[]> {
    return this.run(() =>
      this.db.transaction((db) => {
        const live = db
          .query('SELECT * FROM control_tokens WHERE project = ? AND revoked_at IS NULL', [name])
          .map((r) => fromRow<TokenRecord>(r));
        db.delete('control_projects', { name });
        db.execute(
          'UPDATE control_tokens SET revoked_at = ?, revoked_reason = ? WHERE project = ? AND revoked_at IS NULL',
          [at, reason, name],
        );
        return live.map((t) => ({ ...t, revokedAt: at, revokedReason: reason }));
      }),
    );
  }

  /** Add a token (hash only). */
  addToken(token: TokenRecord): Promise<void> {
    return this.run(() => void this.db.insert('control_tokens', toRow(token)));
  }

  /** Mark tokens revoked, with when and why. */
  revokeTokens(tokens: readonly TokenRecord[]): Promise<void> {
    return this.run(() =>
      this.db.transaction((db) => {
        for (const t of tokens)
          db.update('control_tokens', { revoked_at: t.revokedAt, revoked_reason: t.revokedReason }, { hash: t.hash });
      }),
    );
  }

  /** Write back records the file lacks (inserted only where missing). */
  restore(projects: readonly ProjectRecord[], tokens: readonly TokenRecord[]): Promise<void> {
    return this.run(() =>
      this.db.transaction((db) => {
        if (projects.length > 0) db.upsert('control_projects', projects.map(toRow), { update: [] });
        if (tokens.length > 0) db.upsert('control_tokens', tokens.map(toRow), { update: [] });
      }),
    );
  }

  /** Append one entry to the audit log. */
  appendAudit(entry: AuditEntry): Promise<void> {
    return this.run(
      () =>
        void this.db.insert('control_audit', {
          at: entry.at,
          actor: entry.actor,
          project: entry.project,
          action: entry.action,
          from_value: entry.from,
          to_value: entry.to,
          detail: entry.detail,
        }),
    );
  }

  /** The newest audit entries first, optionally of one project. */
  audit(options: { project?: string | undefined; limit: number }): Promise<AuditEntry[]> {
    return this.run(() =>
      this.db
        .fetch<AuditRow>('control_audit', {
          where: options.project === undefined ? undefined : { project: options.project },
          orderBy: 'id DESC',
          limit: options.limit,
        })
        .map((r) => ({
          at: r.at,
          actor: r.actor,
          project: r.project,
          action: r.action as AuditAction,
          from: r.from_value,
          to: r.to_value,
          detail: r.detail,
        })),
    );
  }

  /** Tell the other control planes sharing this store about a change. */
  publish(): Promise<void> {
    // One process per file: nobody else to tell (other processes notice the commit through data_version).
    return Promise.resolve();
  }

  /** Hear what the other control planes publish; returns an unsubscribe function. */
  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Whether the store answers right now, with the reason when it does not. */
  health(): { ok: boolean; reason?: string } {
    return this.closed ? { ok: false, reason: 'closed' } : { ok: true };
  }

  /** Release connections, timers and handles. Safe to call twice. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    clearInterval(this.timer);
    this.listeners.clear();
    return this.db.close();
  }

  private readVersion(): number {
    return this.db.raw().pragma('data_version', { simple: true }) as number;
  }

  /** Another connection committed: tell the control plane to reload. */
  private poll(): void {
    if (this.closed) return;
    let version: number;
    try {
      version = this.readVersion();
    } catch {
      return;
    }
    if (version === this.dataVersion) return;
    this.dataVersion = version;
    for (const l of this.listeners) l({ kind: 'resync' });
  }

  private async run<T>(fn: () => T): Promise<T> {
    if (this.closed) throw new ControlPlaneError('The control plane store is closed', { code: 'ERR_CONTROL_CLOSED' });
    try {
      return fn();
    } catch (err) {
      if (err instanceof ControlPlaneError) throw err;
      if (err instanceof DatabaseError && err.code === 'ERR_DB_CONSTRAINT')
        throw new ControlPlaneError('That record exists already', { code: 'ERR_CONTROL_CONFLICT', cause: err });
      throw new ControlPlaneError(`The control plane store failed: ${(err as Error).message}`, {
        code: 'ERR_CONTROL_STORE',
        cause: err,
      });
    }
  }
}
