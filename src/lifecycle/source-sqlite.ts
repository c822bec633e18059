import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Database } from '../database/index.js';
import { LifecycleError } from './errors.js';
import { FOLLOWER_PRUNE_MS, newFollower, startHeartbeat, type Follower, type FollowerInfo } from './followers.js';
import { parseRecord, type LifecycleSource } from './sources.js';
import { validateRecord, type LifecycleRecord } from './states.js';

/** File name of the shared lifecycle store inside `dataDir`. */
export const LIFECYCLE_DB_FILE = 'gatehouse-lifecycle.db';

const SELECT_STATE =
  'SELECT state, message, retry_after_sec, updated_at, updated_by, version FROM lifecycle_state WHERE id = 1';
const UPSERT_STATE = `INSERT INTO lifecycle_state (id, state, message, retry_after_sec, updated_at, updated_by, version)
  VALUES (1, ?, ?, ?, ?, ?, 1)
  ON CONFLICT(id) DO UPDATE SET state = excluded.state, message = excluded.message, retry_after_sec = excluded.retry_after_sec,
    updated_at = excluded.updated_at, updated_by = excluded.updated_by, version = version + 1`;

type StateRow = {
  state: string;
  message: string | null;
  retry_after_sec: number | null;
  updated_at: number;
  updated_by: string | null;
  version: number;
};

/**
 * The state in SQLite (`gatehouse-lifecycle.db` in `dataDir`), shared by every process on the host and by the
 * `gatehouse lifecycle` CLI. Watching polls one tiny row; a change by any process is seen within `pollIntervalMs`.
 */
export class SqliteSource implements LifecycleSource {
  readonly name: string = 'sqlite';
  private readonly db: Database;
  private closed = false;
  private readonly beats = new Set<() => void>();

  constructor(
    dataDir: string,
    private readonly pollIntervalMs = 250,
  ) {
    try {
      mkdirSync(dataDir, { recursive: true });
      this.db = new Database({
        path: join(dataDir, LIFECYCLE_DB_FILE),
        tables: {
          lifecycle_state:
            'id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL, message TEXT, retry_after_sec INTEGER, updated_at INTEGER NOT NULL, updated_by TEXT, version INTEGER NOT NULL DEFAULT 1',
          lifecycle_followers:
            'id TEXT PRIMARY KEY, pid INTEGER NOT NULL, host TEXT NOT NULL, name TEXT NOT NULL, started_at INTEGER NOT NULL, last_seen INTEGER NOT NULL',
        },
      });
    } catch (err) {
      throw new LifecycleError(`lifecycle store in ${dataDir}: cannot open it`, {
        code: 'ERR_LIFECYCLE_SOURCE',
        cause: err,
      });
    }
  }

  /** The stored row, validated; `null` when nothing was ever stored. */
  read(): LifecycleRecord | null {
    if (this.closed) throw new LifecycleError('lifecycle store is closed', { code: 'ERR_LIFECYCLE_CLOSED' });
    const row = this.db.queryOne<StateRow>(SELECT_STATE);
    if (!row) return null;
    return parseRecord(
      {
        state: row.state,
        message: row.message,
        retryAfterSec: row.retry_after_sec,
        updatedAt: row.updated_at,
        updatedBy: row.updated_by ?? undefined,
      },
      'lifecycle store',
    );
  }

  /** Store a record (validated first, so a bad value never lands in the shared store). */
  write(record: LifecycleRecord): void {
    if (this.closed) throw new LifecycleError('lifecycle store is closed', { code: 'ERR_LIFECYCLE_CLOSED' });
    const problem = validateRecord(record.state, record.message, record.retryAfterSec);
    if (problem) throw new LifecycleError(problem, { code: 'ERR_LIFECYCLE_INPUT' });
    this.db.execute(UPSERT_STATE, [
      record.state,
      record.message ?? null,
      record.retryAfterSec ?? null,
      record.updatedAt ?? Date.now(),
      record.updatedBy ?? `pid ${process.pid}@${hostname()}`,
    ]);
  }

  /** Heartbeat entries of the processes following this store. */
  followers(): Follower[] {
    if (this.closed) throw new LifecycleError('lifecycle store is closed', { code: 'ERR_LIFECYCLE_CLOSED' });
    return this.db.query<{ id: string; pid: number; host: string; name: string; startedAt: number; lastSeen: number }>(
      'SELECT id, pid, host, name, started_at AS startedAt, last_seen AS lastSeen FROM lifecycle_followers ORDER BY started_at',
    );
  }

  /** Poll the row's version; report when it moved. With a `follower`, keeps its heartbeat row until unwatched. */
  watch(changed: () => void, follower?: FollowerInfo): () => void {
    let stopBeat: (() => void) | undefined;
    if (follower) {
      const f = newFollower(follower);
      this.db.execute('DELETE FROM lifecycle_followers WHERE last_seen < ?', [Date.now() - FOLLOWER_PRUNE_MS]);
      stopBeat = startHeartbeat(
        () => {
          if (this.closed) return;
          this.db.execute(
            'INSERT INTO lifecycle_followers (id, pid, host, name, started_at, last_seen) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET last_seen = excluded.last_seen',
            [f.id, f.pid, f.host, f.name, f.startedAt, Date.now()],
          );
        },
        () => {
          if (!this.closed) this.db.execute('DELETE FROM lifecycle_followers WHERE id = ?', [f.id]);
        },
      );
      this.beats.add(stopBeat);
    }
    let last: number | undefined;
    let failing = false;
    try {
      last = this.currentVersion();
    } catch {
      failing = true;
    }
    const timer = setInterval(() => {
      if (this.closed) return;
      let now: number | undefined;
      try {
        now = this.currentVersion();
      } catch {
        failing = true;
        changed(); // let the lifecycle read, fail and apply its failMode
        return;
      }
      if (now !== last || failing) {
        last = now;
        failing = false;
        changed();
      }
    }, this.pollIntervalMs);
    timer.unref();
    return () => {
      clearInterval(timer);
      if (stopBeat) {
        this.beats.delete(stopBeat);
        stopBeat();
      }
    };
  }

  private currentVersion(): number | undefined {
    const row = this.db.queryOne<{ version: number }>('SELECT version FROM lifecycle_state WHERE id = 1');
    return row?.version;
  }

  /** Close the database. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    for (const stop of [...this.beats]) stop();
    this.beats.clear();
    this.closed = true;
    void this.db.close();
  }
}
