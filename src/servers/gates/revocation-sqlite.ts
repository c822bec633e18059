import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Database } from '../../database/index.js';
import type { Logger } from '../../logger.js';
import type { RevocationListener, RevocationStore } from './revocation-store.js';

/** Options for {@link SqliteRevocationStore}. */
export interface SqliteRevocationStoreOptions {
  /** Directory of the store's SQLite file (`gatehouse-security.db`). */
  dataDir: string;
  /** How often revocations made by other processes are picked up, in ms. @defaultValue 1000 */
  syncIntervalMs?: number;
  /** How often expired entries are pruned, in ms. @defaultValue 3600000 */
  pruneIntervalMs?: number;
  log: Logger;
}

/**
 * Revoked tokens, persisted in SQLite under `dataDir` and mirrored in memory: a lookup per request is a Map
 * read. Entries stay until the token would have expired anyway, then are pruned. Several processes on one host
 * share the file and see each other's revocations within `syncIntervalMs`.
 */
export class SqliteRevocationStore implements RevocationStore {
  readonly name = 'sqlite';
  private readonly db: Database;
  private readonly revoked = new Map<string, number>();
  private readonly listeners = new Set<RevocationListener>();
  private readonly timers: NodeJS.Timeout[] = [];
  private lastId = 0;
  private closed = false;

  constructor(private readonly options: SqliteRevocationStoreOptions) {
    mkdirSync(options.dataDir, { recursive: true });
    // AUTOINCREMENT keeps ids monotonic after pruning, so `id > lastId` never misses another process's row.
    this.db = new Database({
      path: join(options.dataDir, 'gatehouse-security.db'),
      tables: {
        revoked_tokens:
          'id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, expires_at INTEGER NOT NULL, revoked_at INTEGER NOT NULL',
      },
    });
    this.prune();
    this.sync();
    this.timers.push(setInterval(() => this.sync(), options.syncIntervalMs ?? 1000));
    this.timers.push(setInterval(() => this.prune(), options.pruneIntervalMs ?? 3_600_000));
    for (const t of this.timers) t.unref();
  }

  /** Whether a key (token `jti` or hash) is revoked. */
  has(key: string): boolean {
    const exp = this.revoked.get(key);
    return exp !== undefined && exp >= Date.now();
  }

  /** Revoke a key until `expiresAtMs` (epoch ms); persisted before this returns. */
  add(key: string, expiresAtMs: number): void {
    if (this.closed) return;
    this.db.execute(
      'INSERT INTO revoked_tokens (key, expires_at, revoked_at) VALUES (?, ?, ?) ON CONFLICT(key) DO NOTHING',
      [key, expiresAtMs, Date.now()],
    );
    if (!this.revoked.has(key)) {
      this.revoked.set(key, expiresAtMs);
      this.emit(key);
    }
  }

  /** Listen for revocations; returns an unsubscribe function. */
  onRevoke(listener: RevocationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Pick up revocations written by any process since the last sync. */
  sync(): void {
    if (this.closed) return;
    try {
      for (const row of this.db.query<{ id: number; key: string; expires_at: number }>(
        'SELECT id, key, expires_at FROM revoked_tokens WHERE id > ? ORDER BY id',
        [this.lastId],
      )) {
        this.lastId = row.id;
        if (!this.revoked.has(row.key)) {
          this.revoked.set(row.key, row.expires_at);
          this.emit(row.key);
        }
      }
    } catch (err) {
      this.options.log.error({ err }, 'revocation sync failed; keeping the revocations already loaded');
    }
  }

  private prune(): void {
    if (this.closed) return;
    const now = Date.now();
    try {
      this.db.execute('DELETE FROM revoked_tokens WHERE expires_at < ?', [now]);
    } catch (err) {
      this.options.log.warn({ err }, 'revocation prune failed');
    }
    for (const [key, exp] of this.revoked) if (exp < now) this.revoked.delete(key);
  }

  private emit(key: string): void {
    for (const l of this.listeners) {
      try {
        l(key);
      } catch (err) {
        this.options.log.error({ err }, 'revocation listener failed');
      }
    }
  }

  /** Stop syncing and close the file. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.listeners.clear();
    void this.db.close();
  }
}
