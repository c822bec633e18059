import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { Database } from '../database/index.js';
import { LifecycleError } from './errors.js';
import { FOLLOWER_PRUNE_MS, newFollower, startHeartbeat, type Follower, type FollowerInfo } from './followers.js';
import { validateRecord, type LifecycleRecord, type LifecycleState } from './states.js';

/**
 * Where the lifecycle state lives. A source is read once at start and again whenever it says it changed;
 * `set()` writes through it. Implement this to plug in Redis or a remote control plane.
 */
export interface LifecycleSource {
  /** Short name for logs and `/admin/lifecycle`, e.g. `'sqlite'`. */
  readonly name: string;
  /** The current record, or `null` when the source holds none (treated as ACTIVE). Throw when it cannot be read. */
  read(): LifecycleRecord | null | Promise<LifecycleRecord | null>;
  /** Persist a record. Throw when it cannot be written. */
  write(record: LifecycleRecord): void | Promise<void>;
  /**
   * Call `changed` whenever the record may have changed elsewhere; returns a function that stops watching. A shared
   * store also keeps a heartbeat entry for `follower` while watched (see `followers()`).
   */
  watch?(changed: () => void, follower?: FollowerInfo): () => void;
  /** The heartbeat entries of the processes following this store (shared stores only). */
  followers?(): Follower[] | Promise<Follower[]>;
  /** Release handles. Safe to call twice. */
  close?(): void | Promise<void>;
}

/** The process-local source: the state lives in memory only. */
export class MemorySource implements LifecycleSource {
  readonly name: string = 'memory';
  private record: LifecycleRecord | null;
  constructor(initial: LifecycleRecord | null = null) {
    this.record = initial;
  }
  /** The stored record. */
  read(): LifecycleRecord | null {
    return this.record;
  }
  /** Replace the stored record. */
  write(record: LifecycleRecord): void {
    this.record = { ...record };
  }
}

/** Environment variable holding the initial state. */
export const ENV_STATE = 'GATEHOUSE_LIFECYCLE';
/** Environment variable holding the initial message. */
export const ENV_MESSAGE = 'GATEHOUSE_LIFECYCLE_MESSAGE';
/** Environment variable holding the initial Retry-After seconds. */
export const ENV_RETRY_AFTER = 'GATEHOUSE_LIFECYCLE_RETRY_AFTER';

/**
 * The state from the environment (`GATEHOUSE_LIFECYCLE`, `GATEHOUSE_LIFECYCLE_MESSAGE`,
 * `GATEHOUSE_LIFECYCLE_RETRY_AFTER`), read at start. Later `set()` calls live in memory (the environment of a
 * running process cannot be changed from outside).
 */
export class EnvSource implements LifecycleSource {
  readonly name: string = 'env';
  private override: LifecycleRecord | null = null;
  constructor(private readonly env: Readonly<Record<string, string | undefined>> = process.env) {}

  /** The override set at runtime, else the environment's state; throws on an unknown state name. */
  read(): LifecycleRecord | null {
    if (this.override) return this.override;
    const raw = this.env[ENV_STATE];
    if (raw === undefined || raw.trim() === '') return null;
    const state = raw.trim().toUpperCase();
    const message = this.env[ENV_MESSAGE] || undefined;
    const retryRaw = this.env[ENV_RETRY_AFTER];
    const retryAfterSec = retryRaw === undefined || retryRaw === '' ? undefined : Number(retryRaw);
    const problem = validateRecord(state, message, retryAfterSec);
    if (problem) throw new LifecycleError(`${ENV_STATE}: ${problem}`, { code: 'ERR_LIFECYCLE_SOURCE' });
    return { state: state as LifecycleState, message, retryAfterSec };
  }

  /** Keep a runtime change in memory. */
  write(record: LifecycleRecord): void {
    this.override = { ...record };
  }
}

/** Parse a stored record (file or database row); throws a LifecycleError naming what is wrong. */
export function parseRecord(value: unknown, where: string): LifecycleRecord {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new LifecycleError(`${where}: expected an object with a "state"`, { code: 'ERR_LIFECYCLE_SOURCE' });
  const v = value as Record<string, unknown>;
  const state = typeof v.state === 'string' ? v.state.toUpperCase() : v.state;
  const message = v.message === null ? undefined : v.message;
  const retryAfterSec = v.retryAfterSec === null ? undefined : v.retryAfterSec;
  const problem = validateRecord(state, message, retryAfterSec);
  if (problem) throw new LifecycleError(`${where}: ${problem}`, { code: 'ERR_LIFECYCLE_SOURCE' });
  return {
    state: state as LifecycleState,
    message: message as string | undefined,
    retryAfterSec: retryAfterSec as number | undefined,
    updatedAt: typeof v.updatedAt === 'number' ? v.updatedAt : undefined,
    updatedBy: typeof v.updatedBy === 'string' ? v.updatedBy : undefined,
  };
}

/**
 * A JSON file `{ "state": "MAINTENANCE", "message": "...", "retryAfterSec": 600 }`, watched for changes (stat
 * polling, so editors' atomic renames are seen too). A missing file means ACTIVE; `set()` rewrites it atomically.
 */
export class FileSource implements LifecycleSource {
  readonly name: string = 'file';
  constructor(
    private readonly path: string,
    private readonly intervalMs = 250,
  ) {}

  /** Read and validate the file; `null` when it does not exist. */
  read(): LifecycleRecord | null {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new LifecycleError(`lifecycle file ${this.path}: cannot read it`, {
        code: 'ERR_LIFECYCLE_SOURCE',
        cause: err,
      });
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new LifecycleError(`lifecycle file ${this.path}: not valid JSON`, {
        code: 'ERR_LIFECYCLE_SOURCE',
        cause: err,
      });
    }
    return parseRecord(value, `lifecycle file ${this.path}`);
  }

  /** Write the file atomically (temp file, then rename). */
  write(record: LifecycleRecord): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`);
    renameSync(tmp, this.path);
  }

  /** Folder of the followers' heartbeat files, beside the state file. */
  get followersDir(): string {
    return `${this.path}.followers`;
  }

  /** Heartbeat entries (one JSON file per follower in {@link FileSource.followersDir}); unreadable ones are skipped. */
  followers(): Follower[] {
    let names: string[];
    try {
      names = readdirSync(this.followersDir).filter((n) => n.endsWith('.json'));
    } catch {
      return [];
    }
    return names.flatMap((n) => {
      try {
        return [JSON.parse(readFileSync(join(this.followersDir, n), 'utf8')) as Follower];
      } catch {
        return [];
      }
    });
  }

  /**
   * Poll the file's stat and report changes. The first poll always reports one, so a write that lands between
   * the initial read and the first stat is never missed (fs.watchFile takes its baseline asynchronously). With a
   * `follower`, keeps its heartbeat file in {@link FileSource.followersDir} until unwatched.
   */
  watch(changed: () => void, follower?: FollowerInfo): () => void {
    let stopBeat: (() => void) | undefined;
    if (follower) {
      const entry = newFollower(follower);
      const file = join(this.followersDir, `${entry.id.replace(/[^\w.-]/g, '_')}.json`);
      stopBeat = startHeartbeat(
        () => {
          entry.lastSeen = Date.now();
          mkdirSync(this.followersDir, { recursive: true });
          writeFileSync(`${file}.tmp`, JSON.stringify(entry));
          renameSync(`${file}.tmp`, file);
        },
        () => rmSync(file, { force: true }),
      );
    }
    let last: string | undefined;
    let busy = false;
    let stopped = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      stat(this.path)
        .then(
          (st) => `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`,
          (err: NodeJS.ErrnoException) => `missing:${err.code ?? ''}`,
        )
        .then((sig) => {
          busy = false;
          if (stopped || sig === last) return;
          last = sig;
          changed();
        });
    }, this.intervalMs);
    timer.unref();
    return () => {
      stopped = true;
      clearInterval(timer);
      stopBeat?.();
    };
  }
}

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
