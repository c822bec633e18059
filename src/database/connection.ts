/**
 * The one SQLite connection layer of the process: one better-sqlite3 handle per resolved file path (and
 * access mode), opened with the same settings (busy timeout, WAL with the busy retry, durability) and shared
 * by every `Database` and every queue store opened on it; closed when its last user releases it.
 *
 * The registry of open handles is process-wide on purpose: SQLite allows one writer per file, and two handles
 * of one process on one file would only contend for that lock (and two `:memory:` opens stay private).
 */
import fs from 'node:fs';
import path from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { loadNow } from '../load.js';
import { DatabaseError, toDatabaseError } from './errors.js';

/** A compiled statement plus what is needed to bind its values and parse its rows. */
export interface Compiled {
  /** The prepared statement. */
  stmt: BetterSqlite3.Statement;
  /** Column names in bind order (insert/update/upsert). */
  columns: readonly string[];
  /** Per bind column: true when the column is JSON. */
  json: readonly boolean[];
  /** Result keys holding JSON text to parse (fetch). */
  parse: readonly string[];
  /** Per bind column: true when the column is ENCRYPTED; undefined when none is. */
  sealed?: readonly boolean[] | undefined;
  /** Result keys holding Fernet tokens to decrypt (fetch); undefined when none does. */
  opened?: readonly string[] | undefined;
  /** The column each `opened` key reads (differs from the key under an alias). */
  openedColumns?: readonly string[] | undefined;
}

/** Compiled statements of one table keyed by call shape, plus the last insert shape for a fast path. */
export class ShapeCache extends Map<string, Compiled> {
  /** The most recently used plain-insert statement: rows with the same keys skip building a shape key. */
  lastInsert: Compiled | undefined = undefined;
  /** The most recently used fetch shape: repeat calls of the same shape skip building a shape key. */
  lastFetch: FetchShape | undefined = undefined;
}

/** A fetch call shape eligible for the fast path (equality-only where object, string orderBy). */
export interface FetchShape {
  compiled: Compiled;
  columns: readonly string[] | undefined;
  whereKeys: readonly string[] | undefined;
  orderBy: string | undefined;
  limit: boolean;
  offset: boolean;
}

/** What is known about one table's columns. */
export interface TableInfo {
  /** Column names. */
  columns: Set<string>;
  /** Columns stored as JSON text. */
  json: Set<string>;
  /** Columns stored as Fernet tokens (declared `ENCRYPTED`). */
  encrypted: Set<string>;
}

/**
 * How hard SQLite works to keep a commit (files run in WAL mode):
 * - `'normal'` (`synchronous=NORMAL`): a returned commit survives a crash or kill -9 of the process; the
 *   last commits may be lost on power loss or an OS crash (the database stays consistent).
 * - `'full'` (`synchronous=FULL`): every commit is fsynced before it returns, so it also survives power
 *   loss and OS crashes, at a large cost in commits per second.
 *
 * Openers of one file share one connection; if any of them asks for `'full'`, the connection uses `'full'`.
 */
export type Durability = 'normal' | 'full';

/** One shared connection and its caches. */
export interface SharedConnection {
  /** Registry key (resolved path + mode), or undefined for private in-memory connections. */
  key: string | undefined;
  /** The better-sqlite3 handle. */
  db: BetterSqlite3.Database;
  /** Number of users (`Database` instances, queue stores) holding it. */
  refs: number;
  /** Current durability (the strongest any opener asked for; always `'normal'` when read-only). */
  durability: Durability;
  /** Prepared statements keyed by SQL text (query/execute and internal statements). */
  statements: Map<string, BetterSqlite3.Statement>;
  /** Table schemas, loaded lazily from `PRAGMA table_info`. */
  tables: Map<string, TableInfo>;
  /** JSON columns learnt from `tables` declarations, merged into `tables` on load. */
  declaredJson: Map<string, Set<string>>;
  /** ENCRYPTED columns learnt from `tables` declarations, merged into `tables` on load. */
  declaredEncrypted: Map<string, Set<string>>;
  /** Compiled statements per table, keyed by call shape. */
  compiled: Map<string, ShapeCache>;
  /** Primary-key columns per table, in key order (for upsert's default conflict target). */
  primaryKeys: Map<string, string[]>;
  /** Runs a function inside BEGIN IMMEDIATE (or a savepoint when already in a transaction). */
  immediate: (fn: () => unknown) => unknown;
  /** Runs a function inside a deferred BEGIN (read-only connections cannot take the write lock). */
  deferred: (fn: () => unknown) => unknown;
}

/** Connection settings applied when the handle is opened. */
export interface OpenSettings {
  path: string;
  readonly: boolean;
  busyTimeoutMs: number;
  durability: Durability;
}

/**
 * Check the connection settings every opener shares (`durability`, `busyTimeoutMs`); each caller throws its
 * own error class with the message.
 * @param o - the settings as given
 * @returns `{ option, expected }` for the first bad one, or null
 */
export function openSettingsProblem(o: {
  durability: unknown;
  busyTimeoutMs: unknown;
}): { option: string; expected: string } | null {
  if (o.durability !== 'normal' && o.durability !== 'full')
    return { option: 'durability', expected: "'normal' or 'full'" };
  if (typeof o.busyTimeoutMs !== 'number' || !Number.isInteger(o.busyTimeoutMs) || o.busyTimeoutMs < 0) {
    return { option: 'busyTimeoutMs', expected: 'an integer >= 0 (ms)' };
  }
  return null;
}

/** Open handles by resolved path and mode: process-wide on purpose (API.md 4: one connection per path per process). */
const registry = new Map<string, SharedConnection>();

const MAX_STATEMENTS = 1000;

function resolveKey(file: string, readonly: boolean): string {
  const absolute = path.resolve(file);
  let dir = path.dirname(absolute);
  try {
    dir = fs.realpathSync(dir);
  } catch {
    // The directory does not exist (read-only open of a missing file); the open itself reports it.
  }
  return `${readonly ? 'ro' : 'rw'}:${path.join(dir, path.basename(absolute))}`;
}

function isMemory(file: string): boolean {
  return file === ':memory:' || file === '';
}

/**
 * Put the file in WAL mode (persistent in the file). Two processes creating the same file at once can both hold a
 * shared lock and want an exclusive one; SQLite then answers SQLITE_BUSY at once instead of calling the busy
 * handler (that would deadlock), so the switch is retried here for up to the busy timeout.
 */
function switchToWal(db: BetterSqlite3.Database, busyTimeoutMs: number): void {
  const deadline = Date.now() + busyTimeoutMs;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let attempt = 0; ; attempt++) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code !== 'string' || !code.startsWith('SQLITE_BUSY') || Date.now() >= deadline) throw err;
      Atomics.wait(pause, 0, 0, Math.min(50, 5 * (attempt + 1))); // a short synchronous back-off: opening is synchronous
    }
  }
}

/**
 * Acquire the shared connection for a path, opening and configuring it on first use.
 * @param settings - path and connection settings
 * @returns the shared connection (its `refs` already incremented)
 */
export function acquire(settings: OpenSettings): SharedConnection {
  const memory = isMemory(settings.path);
  if (!memory && !settings.readonly) fs.mkdirSync(path.dirname(path.resolve(settings.path)), { recursive: true });
  const key = memory ? undefined : resolveKey(settings.path, settings.readonly);
  const existing = key === undefined ? undefined : registry.get(key);
  if (existing) {
    existing.refs++;
    // A later user asking for stronger durability upgrades the shared handle; it is never downgraded.
    if (settings.durability === 'full' && !settings.readonly && existing.durability !== 'full') {
      existing.db.pragma('synchronous = FULL');
      existing.durability = 'full';
    }
    return existing;
  }
  // better-sqlite3 is a native addon: loaded when the first connection opens, not when gatehouse is imported.
  const Sqlite = loadNow<typeof BetterSqlite3>('better-sqlite3');
  let db: BetterSqlite3.Database;
  try {
    db = new Sqlite(memory ? ':memory:' : settings.path, {
      readonly: settings.readonly,
      fileMustExist: settings.readonly,
      timeout: settings.busyTimeoutMs,
    });
  } catch (err) {
    throw new DatabaseError(`Cannot open database ${settings.path}: ${(err as Error).message}`, {
      code: 'ERR_DB_OPTIONS',
      cause: err,
    });
  }
  try {
    db.pragma(`busy_timeout = ${settings.busyTimeoutMs}`);
    if (!settings.readonly) {
      if (!memory) switchToWal(db, settings.busyTimeoutMs);
      db.pragma(`synchronous = ${settings.durability === 'full' ? 'FULL' : 'NORMAL'}`);
    }
    db.pragma('foreign_keys = ON');
  } catch (err) {
    db.close();
    throw toDatabaseError(err);
  }
  const runner = db.transaction((fn: () => unknown) => fn());
  const shared: SharedConnection = {
    key,
    db,
    refs: 1,
    durability: settings.readonly ? 'normal' : settings.durability,
    statements: new Map(),
    tables: new Map(),
    declaredJson: new Map(),
    declaredEncrypted: new Map(),
    compiled: new Map(),
    primaryKeys: new Map(),
    immediate: runner.immediate,
    deferred: runner.deferred,
  };
  if (key !== undefined) registry.set(key, shared);
  return shared;
}

/**
 * Release one user of a shared connection; the last release closes the handle.
 * @param shared - the connection to release
 */
export function release(shared: SharedConnection): void {
  shared.refs--;
  if (shared.refs > 0) return;
  if (shared.key !== undefined && registry.get(shared.key) === shared) registry.delete(shared.key);
  shared.statements.clear();
  shared.compiled.clear();
  if (shared.db.open) shared.db.close();
}

/**
 * Prepare (or reuse) a statement for an SQL text on a connection.
 * @param shared - the connection
 * @param sql - one SQL statement
 * @returns the cached prepared statement
 */
export function prepare(shared: SharedConnection, sql: string): BetterSqlite3.Statement {
  let stmt = shared.statements.get(sql);
  if (stmt === undefined) {
    stmt = shared.db.prepare(sql);
    if (shared.statements.size >= MAX_STATEMENTS) {
      // Drop the oldest entry: dynamic SQL must not grow the cache without bound.
      const oldest = shared.statements.keys().next().value;
      if (oldest !== undefined) shared.statements.delete(oldest);
    }
    shared.statements.set(sql, stmt);
  }
  return stmt;
}

/**
 * Number of live shared connections in this process (for tests and diagnostics).
 * @returns how many file connections are open
 */
export function openConnectionCount(): number {
  return registry.size;
}
