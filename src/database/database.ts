/**
 * `Database`: a small, safe, fast layer over better-sqlite3. Declared tables, JSON columns, a
 * `column::json.path` shorthand, parameterised everything, one shared connection per file per process.
 * The facade: options, the public calls and their error mapping; the SQL compiler lives in `sql-*.ts`, the
 * table schema cache in `schema.ts`, row decoding in `rows.ts`, the connection layer in `connection.ts`.
 */
import type { Logger } from 'pino';
import type BetterSqlite3 from 'better-sqlite3';
import { defaultLogger } from '../logger.js';
import { optionChecks, withDefaults, type OptionChecks } from '../options.js';
import { acquire, prepare, release } from './connection.js';
import type { Durability, SharedConnection } from './connection.js';
import { ColumnCipher, encryptedColumnsOf } from './encrypted-columns.js';
import { DatabaseError, toDatabaseError } from './errors.js';
import { assertIdentifier, quote } from './identifiers.js';
import { jsonColumnsOf } from './json-columns.js';
import { runMigrations } from './migrations.js';
import { reencryptTable } from './reencrypt.js';
import { convertParams, decodeRows, rowOf } from './rows.js';
import { invalidateSchema, shapesOf } from './schema.js';
import { fetchCompiled } from './sql-fetch.js';
import { bindAll, whereStatement } from './sql-where.js';
import { insertMany, insertRow, updateRows } from './sql-write.js';
import type { BindParams, FetchOptions, Row, RowInput, RunResult, UpsertOptions, Where } from './types.js';

/** A migration: an SQL script, or a function that receives the `Database` (runs inside the transaction). */
export type Migration = string | ((db: Database) => void);

/** Table declarations: table name to its column definitions, e.g. `{ users: 'id INTEGER PRIMARY KEY, meta JSON' }`. */
export type TableDeclarations = Readonly<Record<string, string>>;

/** Options of {@link Database}. */
export interface DatabaseOptions {
  /** SQLite file path; parent directories are created. `':memory:'` gives a private in-memory database. @defaultValue ':memory:' */
  path?: string;
  /**
   * Tables created with `CREATE TABLE IF NOT EXISTS` on open; columns typed `JSON` are (de)serialised, columns
   * typed `ENCRYPTED` are stored as Fernet tokens (needs `encryptionKey`). @defaultValue {}
   */
  tables?: TableDeclarations;
  /**
   * Fernet key(s) of `ENCRYPTED` columns, as `Fernet.generateKey()` returns: one key, or several for rotation (the
   * first encrypts, any of them decrypts; `reencrypt(table)` moves old rows to the first). Required when `tables`
   * declares an `ENCRYPTED` column. @defaultValue undefined (ENCRYPTED columns refused)
   */
  encryptionKey?: string | readonly string[];
  /**
   * Bind every token written to an `ENCRYPTED` column to its table and column (inside the encrypted plaintext), so
   * a token copied to another column or table by a write outside this layer is refused with
   * `ERR_DB_DECRYPT`; tokens written before the option are refused too until `reencrypt(table)` binds them.
   * Bound tokens are no longer plain Fernet text tokens (Python's `cryptography.fernet` opens them, but sees the
   * binding prefix). Moves between rows of one column are not detected. @defaultValue false
   */
  bindEncryptedColumns?: boolean;
  /** Ordered migrations, each applied once (tracked with `PRAGMA user_version`), after `tables` are created. @defaultValue [] */
  migrations?: readonly Migration[];
  /** `'normal'`: synchronous=NORMAL (a power loss may lose the last commits, never corrupts). `'full'`: synchronous=FULL. @defaultValue 'normal' */
  durability?: Durability;
  /** Open read-only (the file must exist; writes throw `ERR_DB_READONLY`). @defaultValue false */
  readonly?: boolean;
  /** How long a statement waits for another connection's lock before failing, in ms. @defaultValue 5000 */
  busyTimeoutMs?: number;
  /** Logger; a child `{ component: 'database' }` is taken. @defaultValue the gatehouse default logger */
  logger?: Logger;
}

const DEFAULTS = {
  path: ':memory:',
  tables: {} as TableDeclarations,
  migrations: [] as readonly Migration[],
  durability: 'normal' as Durability,
  readonly: false,
  busyTimeoutMs: 5000,
  bindEncryptedColumns: false,
} satisfies Required<Omit<DatabaseOptions, 'logger' | 'encryptionKey'>>;

type ResolvedOptions = typeof DEFAULTS;

const EMPTY_FETCH: FetchOptions = {};
const NOTHING: RunResult = Object.freeze({ changes: 0, lastInsertRowid: 0 });
const DDL = /^\s*(?:create|alter|drop)\b/i;

const check: OptionChecks = optionChecks('Database', (m) => new DatabaseError(m, { code: 'ERR_DB_OPTIONS' }));

/** The options over `DEFAULTS`, each checked (`ERR_DB_OPTIONS` naming the option). */
function resolveOptions(options: DatabaseOptions): ResolvedOptions {
  const { logger: _logger, encryptionKey: _key, ...rest } = options;
  const o = withDefaults(DEFAULTS, rest);
  check.string('path', o.path, true);
  check.oneOf('durability', o.durability, ['normal', 'full'] as const);
  check.int('busyTimeoutMs', o.busyTimeoutMs, { min: 0 });
  check.bool('readonly', o.readonly);
  check.bool('bindEncryptedColumns', o.bindEncryptedColumns);
  check.object('tables', o.tables);
  if (!Array.isArray(o.migrations)) check.fail('migrations', 'an array', o.migrations);
  for (const [name, defs] of Object.entries(o.tables)) {
    assertIdentifier(name, 'table');
    if (typeof defs !== 'string' || defs.trim() === '')
      check.fail(`tables.${name}`, 'a non-empty column definition string', defs);
  }
  return o;
}

function isThenable(value: unknown): boolean {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * A SQLite database: WAL, busy timeout, foreign keys on, one shared connection per file per process.
 * All methods are synchronous (better-sqlite3); `close()` returns a promise for symmetry with other resources.
 *
 * @example
 * ```ts
 * const db = new Database({ path: './data/app.db', tables: { users: 'id INTEGER PRIMARY KEY, name TEXT, meta JSON' } });
 * db.insert('users', [{ id: 1, name: 'Alice', meta: { role: 'admin' } }]);
 * db.fetch('users', { columns: ['name', 'meta::role as role'], where: { id: 1 } }); // [{ name: 'Alice', role: 'admin' }]
 * db.transaction(() => { db.update('users', { name: 'Bob' }, { id: 1 }); });
 * await db.close();
 * ```
 */
export class Database {
  /** The path as given in the options (`':memory:'` for in-memory databases). */
  readonly path: string;
  /** Whether the database was opened read-only. */
  readonly readonly: boolean;
  private shared: SharedConnection | undefined;
  private readonly log: Logger;
  private readonly cipher: ColumnCipher | undefined;

  /**
   * Open (or join the shared connection to) a database, create declared tables and apply migrations.
   * @param options - see {@link DatabaseOptions}
   */
  constructor(options: DatabaseOptions = {}) {
    const o = resolveOptions(options);
    this.path = o.path;
    this.readonly = o.readonly;
    this.log = (options.logger ?? defaultLogger()).child({ component: 'database' });
    this.cipher =
      options.encryptionKey === undefined ? undefined : new ColumnCipher(options.encryptionKey, o.bindEncryptedColumns);
    const declared = new Map<string, string>(Object.entries(o.tables));
    if (this.cipher === undefined) {
      for (const [name, defs] of declared) {
        const sealed = encryptedColumnsOf(defs);
        if (sealed.size > 0) {
          check.fail(
            'encryptionKey',
            `given: tables.${name} declares ENCRYPTED column(s) ${[...sealed].join(', ')}`,
            undefined,
          );
        }
      }
    }
    const shared = acquire({
      path: o.path,
      readonly: o.readonly,
      busyTimeoutMs: o.busyTimeoutMs,
      durability: o.durability,
    });
    this.shared = shared;
    try {
      for (const [name, defs] of declared) {
        const json = jsonColumnsOf(defs);
        const known = shared.declaredJson.get(name);
        if (known) for (const c of json) known.add(c);
        else shared.declaredJson.set(name, json);
        const sealed = encryptedColumnsOf(defs);
        const knownSealed = shared.declaredEncrypted.get(name);
        if (knownSealed) for (const c of sealed) knownSealed.add(c);
        else shared.declaredEncrypted.set(name, sealed);
      }
      if (!o.readonly && declared.size > 0) {
        shared.immediate(() => {
          for (const [name, defs] of declared) {
            // prepare() compiles exactly one statement, so a declaration cannot smuggle in a second one.
            shared.db.prepare(`CREATE TABLE IF NOT EXISTS ${quote(name)} (${defs})`).run();
          }
        });
      }
      runMigrations(shared, o.migrations, this, o.readonly, this.log);
      invalidateSchema(shared);
    } catch (err) {
      this.shared = undefined;
      release(shared);
      throw toDatabaseError(err);
    }
    this.log.debug({ path: o.path, readonly: o.readonly, durability: o.durability }, 'database opened');
  }

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.shared === undefined;
  }

  /**
   * Insert one row or many rows (many rows run in one transaction). Keys whose value is `undefined` are
   * left out, so column defaults apply. JSON columns are serialised.
   * @param table - declared or existing table
   * @param rows - a row object or an array of them
   * @returns total changes and the rowid of the last inserted row
   */
  insert(table: string, rows: RowInput | readonly RowInput[]): RunResult {
    return this.write(table, rows, undefined);
  }

  /**
   * Insert rows, or update them when they collide with a PRIMARY KEY / UNIQUE constraint
   * (`INSERT ... ON CONFLICT (...) DO UPDATE SET col = excluded.col`).
   * @param table - declared or existing table
   * @param rows - a row object or an array of them
   * @param options - conflict target and columns to update
   * @returns total changes and the rowid of the last inserted row
   */
  upsert(table: string, rows: RowInput | readonly RowInput[], options: UpsertOptions = {}): RunResult {
    return this.write(table, rows, options);
  }

  /** insert (no `options`) or upsert: one row straight away, several in one IMMEDIATE transaction. */
  private write(table: string, rows: RowInput | readonly RowInput[], options: UpsertOptions | undefined): RunResult {
    const shared = this.writable();
    try {
      const byTable = shapesOf(shared, table);
      const cipher = this.cipher;
      if (!Array.isArray(rows)) return insertRow(shared, byTable, table, rows as Row, options, cipher);
      if (rows.length === 0) return NOTHING;
      if (rows.length === 1) return insertRow(shared, byTable, table, rows[0] as Row, options, cipher);
      return shared.immediate(() => insertMany(shared, byTable, table, rows, options, cipher)) as RunResult;
    } catch (err) {
      throw toDatabaseError(err);
    }
  }

  /**
   * Read rows. JSON columns come back parsed; `col::a.b` reads a JSON path (as its last key, or `as alias`).
   * @param table - declared or existing table
   * @param options - columns, where, orderBy, limit, offset
   * @returns the matching rows
   */
  fetch<T extends Row = Row>(table: string, options: FetchOptions = EMPTY_FETCH): T[] {
    const shared = this.open();
    try {
      const params: unknown[] = [];
      const compiled = fetchCompiled(shared, table, options, params);
      const rows = compiled.stmt.all(...bindAll(params, compiled)) as T[];
      return compiled.opened === undefined && compiled.parse.length === 0
        ? rows
        : decodeRows(rows, compiled, table, this.cipher, (column, stored) => rowOf(shared, table, column, stored));
    } catch (err) {
      throw toDatabaseError(err);
    }
  }

  /**
   * Read the first matching row (same options as {@link Database.fetch}).
   * @param table - declared or existing table
   * @param options - columns, where, orderBy, offset
   * @returns the row, or undefined when none matches
   */
  fetchOne<T extends Row = Row>(table: string, options: FetchOptions = EMPTY_FETCH): T | undefined {
    const shared = this.open();
    try {
      const params: unknown[] = [];
      const compiled = fetchCompiled(shared, table, options, params);
      const row = compiled.stmt.get(...bindAll(params, compiled)) as T | undefined;
      if (row === undefined || (compiled.opened === undefined && compiled.parse.length === 0)) return row;
      return decodeRows([row], compiled, table, this.cipher, (column, stored) =>
        rowOf(shared, table, column, stored),
      )[0];
    } catch (err) {
      throw toDatabaseError(err);
    }
  }

  /**
   * Count rows.
   * @param table - declared or existing table
   * @param where - which rows @defaultValue all rows
   * @returns the number of matching rows
   */
  count(table: string, where?: Where): number {
    const shared = this.open();
    try {
      const byTable = shapesOf(shared, table);
      const params: unknown[] = [];
      const compiled = whereStatement(
        shared,
        byTable,
        table,
        'c',
        where,
        params,
        (clause) => `SELECT COUNT(*) AS n FROM ${quote(table)}${clause}`,
      );
      return (compiled.stmt.get(bindAll(params, compiled)) as { n: number }).n;
    } catch (err) {
      throw toDatabaseError(err);
    }
  }

  /**
   * Update rows. Keys whose value is `undefined` are left unchanged.
   * @param table - declared or existing table
   * @param changes - columns to set
   * @param where - which rows (`{}` means every row)
   * @returns number of changed rows
   */
  update(table: string, changes: RowInput, where: Where): RunResult {
    const shared = this.writable();
    try {
      return updateRows(shared, shapesOf(shared, table), table, changes as Row, where, this.cipher);
    } catch (err) {
      throw toDatabaseError(err);
    }
  }

  /**
   * Delete rows.
   * @param table - declared or existing table
   * @param where - which rows (`{}` means every row)
   * @returns number of deleted rows
   */
  delete(table: string, where: Where): RunResult {
    const shared = this.writable();
    try {
      const byTable = shapesOf(shared, table);
      if (where === undefined)
        throw new DatabaseError('delete() needs a where clause ({} for every row)', { code: 'ERR_DB_VALUE' });
      const params: unknown[] = [];
      const compiled = whereStatement(
        shared,
        byTable,
        table,
        'd',
        where,
        params,
        (clause) => `DELETE FROM ${quote(table)}${clause}`,
      );
      return compiled.stmt.run(bindAll(params, compiled));
    } catch (err) {
      throw toDatabaseError(err);
    }
  }

  /**
   * Run a raw SQL query that returns rows. Values are always bound, never spliced. Booleans become 1/0,
   * Dates ISO strings. JSON columns are not parsed here (use `fetch`).
   * @param sql - one SQL statement with `?` or named placeholders
   * @param params - bind parameters
   * @returns the rows
   */
  query<T extends Row = Row>(sql: string, params?: BindParams): T[] {
    const shared = this.open();
    try {
      return prepare(shared, sql).all(convertParams(params)) as T[];
    } catch (err) {
      throw toDatabaseError(err);
    }
  }

  /**
   * Run a raw SQL query and return its first row.
   * @param sql - one SQL statement with `?` or named placeholders
   * @param params - bind parameters
   * @returns the first row, or undefined
   */
  queryOne<T extends Row = Row>(sql: string, params?: BindParams): T | undefined {
    const shared = this.open();
    try {
      return prepare(shared, sql).get(convertParams(params)) as T | undefined;
    } catch (err) {
      throw toDatabaseError(err);
    }
  }

  /**
   * Run one raw SQL statement that does not return rows (INSERT/UPDATE/DELETE/DDL).
   * @param sql - one SQL statement with `?` or named placeholders
   * @param params - bind parameters
   * @returns changes and last inserted rowid
   */
  execute(sql: string, params?: BindParams): RunResult {
    const shared = this.writable();
    try {
      const result = prepare(shared, sql).run(convertParams(params));
      if (DDL.test(sql)) invalidateSchema(shared);
      return result;
    } catch (err) {
      throw toDatabaseError(err);
    }
  }

  /**
   * Run `fn` in a transaction: `BEGIN IMMEDIATE` (takes the write lock up front, so no mid-transaction
   * SQLITE_BUSY), committed when `fn` returns, rolled back when it throws. Nested calls use savepoints.
   * `fn` must be synchronous: async functions are rejected with `ERR_DB_ASYNC_TRANSACTION`.
   * @param fn - the work; receives this database
   * @returns what `fn` returned
   */
  transaction<T>(fn: (db: Database) => T): T {
    const shared = this.open();
    if (typeof fn !== 'function') throw new DatabaseError('transaction() needs a function', { code: 'ERR_DB_VALUE' });
    if (fn.constructor?.name === 'AsyncFunction' || fn.constructor?.name === 'AsyncGeneratorFunction') {
      throw new DatabaseError('transaction() needs a synchronous function: SQLite transactions cannot span an await', {
        code: 'ERR_DB_ASYNC_TRANSACTION',
      });
    }
    const body = (): T => {
      const result = fn(this);
      if (isThenable(result)) {
        throw new DatabaseError(
          'transaction() function returned a promise: it was rolled back (transactions cannot span an await)',
          { code: 'ERR_DB_ASYNC_TRANSACTION' },
        );
      }
      return result;
    };
    try {
      return (this.readonly ? shared.deferred(body) : shared.immediate(body)) as T;
    } catch (err) {
      // Only SQLite's own errors are mapped; whatever the caller's function threw is rethrown as is.
      throw toDatabaseError(err, false);
    }
  }

  /**
   * Re-encrypt every `ENCRYPTED` value of a table with the first `encryptionKey` (key rotation): each token is
   * opened with whichever key made it and sealed again under the first, keeping its plaintext and timestamp,
   * all in one IMMEDIATE transaction. A token that opens with none of the keys rolls the whole table back
   * (`ERR_DB_DECRYPT`, naming the column and row), so nothing is half-rotated. Once it resolves, the old keys
   * can be dropped from `encryptionKey`.
   *
   * @example
   * ```ts
   * const db = new Database({ path, tables: { users: 'id INTEGER PRIMARY KEY, ssn ENCRYPTED' }, encryptionKey: [newKey, oldKey] });
   * await db.reencrypt('users'); // rows now open with newKey alone
   * ```
   * @param table - a table with ENCRYPTED columns
   * @returns the number of rows rewritten (rows whose ENCRYPTED values are all NULL are left alone)
   */
  async reencrypt(table: string): Promise<number> {
    const shared = this.writable();
    try {
      return reencryptTable(shared, table, this.cipher);
    } catch (err) {
      throw toDatabaseError(err);
    }
  }

  /**
   * The underlying better-sqlite3 handle, shared with every `Database` on the same file. For features this
   * layer does not cover (user-defined functions, backups); do not close it.
   * @returns the raw handle
   */
  raw(): BetterSqlite3.Database {
    return this.open().db;
  }

  /**
   * Release this instance's use of the shared connection; the last user closes it. Safe to call twice.
   * The work is synchronous; the promise is for symmetry with other gatehouse resources.
   * @returns a resolved promise
   */
  close(): Promise<void> {
    const shared = this.shared;
    if (shared !== undefined) {
      this.shared = undefined;
      release(shared);
      this.log.debug({ path: this.path }, 'database closed');
    }
    return Promise.resolve();
  }

  private open(): SharedConnection {
    const shared = this.shared;
    if (shared === undefined) throw new DatabaseError('Database is closed', { code: 'ERR_DB_CLOSED' });
    return shared;
  }

  private writable(): SharedConnection {
    const shared = this.shared;
    if (shared === undefined) throw new DatabaseError('Database is closed', { code: 'ERR_DB_CLOSED' });
    if (this.readonly)
      throw new DatabaseError(`Database ${this.path} was opened read-only`, { code: 'ERR_DB_READONLY' });
    return shared;
  }
}
