/**
 * `Database`: a small, safe, fast layer over better-sqlite3. Declared tables, JSON columns, a
 * `column::json.path` shorthand, parameterised everything, one shared connection per file per process.
 */
import type { Logger } from 'pino';
import type BetterSqlite3 from 'better-sqlite3';
import { defaultLogger } from '../logger.js';
import { definedFields } from '../options.js';
import { acquire, openSettingsProblem, prepare, release, ShapeCache } from './connection.js';
import type { Compiled, Durability, FetchShape, SharedConnection, TableInfo } from './connection.js';
import { ColumnCipher, encryptedColumnsOf, isEncryptedType } from './encrypted-columns.js';
import { DatabaseError, toDatabaseError } from './errors.js';
import { assertIdentifier, parseColumnRef, parseOrderItem, quote } from './identifiers.js';
import type { ColumnRef } from './identifiers.js';
import { isJsonType, jsonColumnsOf, parseJsonKeys, toJson, toSql } from './json-columns.js';
import type { SqlValue } from './json-columns.js';
import { runMigrations } from './migrations.js';

export type { Durability } from './connection.js';

/** A row as read: column name (or alias) to value. */
export type Row = Record<string, unknown>;

/**
 * A row to write: any object whose own enumerable keys are column names (interfaces welcome; keys whose
 * value is `undefined` are left out).
 */
export type RowInput = object;

/** Bind parameters for raw SQL: positional (`?`) as an array, or named (`@name`, `:name`) as an object. */
export type BindParams = readonly unknown[] | Readonly<Record<string, unknown>>;

/**
 * Equality conditions joined with AND. Keys are columns or `column::json.path`; a `null` value means
 * `IS NULL`, an array means `IN (...)`, anything else `= ?`. `undefined` values are rejected.
 */
export type WhereObject = Readonly<Record<string, unknown>>;

/** A raw SQL condition with bound parameters: `['age > ? AND name LIKE ?', 30, 'A%']`. */
export type WhereSql = readonly [sql: string, ...params: unknown[]];

/** A where clause: an object of equalities or a raw `[sql, ...params]` tuple. */
export type Where = WhereObject | WhereSql;

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

/** Options of {@link Database.fetch}. */
export interface FetchOptions {
  /** Columns to return: `'name'`, `'name as n'`, `'meta::role'` (comes back as `role`), `'meta::a.b[0] as x'`. @defaultValue all columns (`*`) */
  columns?: readonly string[];
  /** Which rows. @defaultValue all rows */
  where?: Where;
  /** Sort: `'name'`, `'created DESC'`, `'meta::rank DESC'`, or a list of those. @defaultValue unordered */
  orderBy?: string | readonly string[];
  /** Maximum number of rows (non-negative integer). @defaultValue no limit */
  limit?: number;
  /** Rows to skip (non-negative integer). @defaultValue 0 */
  offset?: number;
}

/** Options of {@link Database.upsert}. */
export interface UpsertOptions {
  /** Conflict target: the column(s) of a PRIMARY KEY or UNIQUE constraint. @defaultValue the table's primary key */
  conflict?: string | readonly string[];
  /** Columns overwritten on conflict; `[]` means DO NOTHING. @defaultValue every inserted column not in `conflict` */
  update?: readonly string[];
}

/** Result of a write. */
export interface RunResult {
  /** Rows inserted, updated or deleted. */
  changes: number;
  /** Rowid of the last inserted row (0 when nothing was inserted). */
  lastInsertRowid: number | bigint;
}

const DEFAULTS = {
  path: ':memory:',
  tables: {} as TableDeclarations,
  migrations: [] as readonly Migration[],
  durability: 'normal' as Durability,
  readonly: false,
  busyTimeoutMs: 5000,
} satisfies Required<Omit<DatabaseOptions, 'logger' | 'encryptionKey'>>;

const EMPTY_FETCH: FetchOptions = {};
const NO_PARAMS: readonly unknown[] = [];
const NOTHING: RunResult = Object.freeze({ changes: 0, lastInsertRowid: 0 });
const DDL = /^\s*(?:create|alter|drop)\b/i;
const ROWID = new Set(['rowid', 'oid', '_rowid_']);
const MAX_SHAPES_PER_TABLE = 2000;

function optionError(message: string): DatabaseError {
  return new DatabaseError(message, { code: 'ERR_DB_OPTIONS' });
}

function resolveOptions(options: DatabaseOptions): Required<Omit<DatabaseOptions, 'logger' | 'encryptionKey'>> {
  const { logger: _logger, encryptionKey: _key, ...rest } = definedFields(options);
  const o = { ...DEFAULTS, ...rest };
  if (typeof o.path !== 'string') throw optionError('Option "path" must be a string');
  const bad = openSettingsProblem(o);
  if (bad !== null) {
    throw optionError(
      `Option "${bad.option}" must be ${bad.expected}, got ${String(o[bad.option as 'durability' | 'busyTimeoutMs'])}`,
    );
  }
  if (typeof o.readonly !== 'boolean') throw optionError('Option "readonly" must be a boolean');
  if (typeof o.tables !== 'object' || o.tables === null) throw optionError('Option "tables" must be an object');
  if (!Array.isArray(o.migrations)) throw optionError('Option "migrations" must be an array');
  return o;
}

function isThenable(value: unknown): boolean {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** Append the shape of a where clause to a cache key and collect its raw parameters. */
function whereShape(where: Where | undefined, params: unknown[]): string {
  if (where === undefined) return '';
  if (Array.isArray(where)) {
    const sql: unknown = where[0];
    if (typeof sql !== 'string' || sql.trim() === '') {
      throw new DatabaseError('A where tuple must start with an SQL condition string', { code: 'ERR_DB_VALUE' });
    }
    for (let i = 1; i < where.length; i++) params.push(where[i]);
    return 's' + sql.length + ':' + sql;
  }
  if (typeof where !== 'object' || where === null) {
    throw new DatabaseError('where must be an object of equalities or an [sql, ...params] tuple', {
      code: 'ERR_DB_VALUE',
    });
  }
  // Length-prefixed keys make the shape string injective: no two different where objects share a key.
  let key = 'w';
  for (const k in where) {
    const v = (where as WhereObject)[k];
    if (v === null) key += k.length + ':' + k + 'n';
    else if (Array.isArray(v)) {
      key += k.length + ':' + k + 'i' + v.length + ';';
      for (let j = 0; j < v.length; j++) params.push(v[j]);
    } else if (v === undefined) {
      throw new DatabaseError(`where.${k.slice(0, 40)} is undefined: use null for IS NULL, or leave the key out`, {
        code: 'ERR_DB_VALUE',
      });
    } else {
      key += k.length + ':' + k + '=';
      params.push(v);
    }
  }
  return key;
}

/** Convert raw params in place according to the compiled per-position JSON and ENCRYPTED flags. */
function bindAll(params: unknown[], compiled: Compiled, cipher?: ColumnCipher): unknown[] {
  const json = compiled.json;
  const sealed = compiled.sealed;
  for (let i = 0; i < params.length; i++) {
    const column = compiled.columns[i] ?? '?';
    if (sealed !== undefined && sealed[i] === true) params[i] = (cipher as ColumnCipher).seal(params[i], column);
    else params[i] = json[i] === true ? toJson(params[i], column) : toSql(params[i], column);
  }
  return params;
}

function encryptedQueryError(table: string, column: string, what: string): DatabaseError {
  return new DatabaseError(
    `Column "${column}" of table "${table}" is ENCRYPTED: it cannot be used in ${what} (its values are stored as random Fernet tokens)`,
    { code: 'ERR_DB_ENCRYPTED_QUERY' },
  );
}

function convertParams(params: BindParams | undefined): BindParams {
  if (params === undefined) return NO_PARAMS;
  if (!Array.isArray(params)) {
    if (typeof params !== 'object' || params === null) {
      throw new DatabaseError('SQL parameters must be an array or an object of named parameters', {
        code: 'ERR_DB_VALUE',
      });
    }
    const named = params as Readonly<Record<string, unknown>>;
    let out: Record<string, unknown> | undefined;
    for (const k in named) {
      const v = named[k];
      const t = typeof v;
      if (t === 'boolean' || t === 'undefined' || (t === 'object' && v !== null && !(v instanceof Uint8Array))) {
        out ??= { ...named };
        out[k] = toSql(v, k);
      }
    }
    return out ?? named;
  }
  let out: unknown[] | undefined;
  for (let i = 0; i < params.length; i++) {
    const v: unknown = params[i];
    const t = typeof v;
    if (t === 'boolean' || t === 'undefined' || (t === 'object' && v !== null && !(v instanceof Uint8Array))) {
      out ??= params.slice();
      out[i] = toSql(v, `parameter ${i + 1}`);
    }
  }
  return out ?? params;
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
    this.cipher = options.encryptionKey === undefined ? undefined : new ColumnCipher(options.encryptionKey);
    const declared = new Map<string, string>();
    for (const [name, defs] of Object.entries(o.tables)) {
      assertIdentifier(name, 'table');
      if (typeof defs !== 'string' || defs.trim() === '') {
        throw optionError(`Option "tables.${name}" must be a non-empty column definition string`);
      }
      if (this.cipher === undefined) {
        const sealed = encryptedColumnsOf(defs);
        if (sealed.size > 0) {
          throw optionError(
            `Option "tables.${name}" declares ENCRYPTED column(s) ${[...sealed].join(', ')}: give the "encryptionKey" option`,
          );
        }
      }
      declared.set(name, defs);
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
      this.invalidateSchema();
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
      const byTable = shared.compiled.get(table) ?? this.tableCache(shared, table);
      if (!Array.isArray(rows)) return this.insertRow(shared, byTable, table, rows as Row, options);
      if (rows.length === 0) return NOTHING;
      if (rows.length === 1) return this.insertRow(shared, byTable, table, rows[0] as Row, options);
      return shared.immediate(() => this.insertMany(shared, byTable, table, rows, options)) as RunResult;
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
      const compiled = this.fetchCompiled(shared, table, options, params);
      const rows = compiled.stmt.all(...bindAll(params, compiled)) as T[];
      if (compiled.opened !== undefined) this.openRows(table, rows, compiled.opened);
      return compiled.parse.length === 0 ? rows : parseJsonKeys(rows, compiled.parse);
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
      const compiled = this.fetchCompiled(shared, table, options, params);
      const row = compiled.stmt.get(...bindAll(params, compiled)) as T | undefined;
      if (row !== undefined && compiled.opened !== undefined) this.openRows(table, [row], compiled.opened);
      if (row === undefined || compiled.parse.length === 0) return row;
      return parseJsonKeys([row], compiled.parse)[0];
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
      const byTable = shared.compiled.get(table) ?? this.tableCache(shared, table);
      const params: unknown[] = [];
      const compiled = this.whereStatement(
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
    const set = changes as Row;
    try {
      const byTable = shared.compiled.get(table) ?? this.tableCache(shared, table);
      if (typeof set !== 'object' || set === null || Array.isArray(set)) {
        throw new DatabaseError('update() needs an object of columns to set', { code: 'ERR_DB_VALUE' });
      }
      if (where === undefined)
        throw new DatabaseError('update() needs a where clause ({} for every row)', { code: 'ERR_DB_VALUE' });
      const params: unknown[] = [];
      let key = 'u';
      for (const k in set) {
        const v = set[k];
        if (v === undefined) continue;
        key += k.length + ':' + k;
        params.push(v);
      }
      if (params.length === 0) throw new DatabaseError('update() got no columns to set', { code: 'ERR_DB_VALUE' });
      key += '|' + whereShape(where, params);
      let compiled = byTable.get(key);
      if (compiled === undefined) {
        const info = this.info(shared, table);
        const columns: string[] = [];
        const json: boolean[] = [];
        const sets: string[] = [];
        for (const k in set) {
          if (set[k] === undefined) continue;
          this.checkColumn(shared, table, info, k);
          sets.push(`${quote(k)} = ?`);
          columns.push(k);
          json.push(this.info(shared, table).json.has(k));
        }
        const sealed = this.sealedFlags(shared, table, columns);
        const clause = this.compileWhere(shared, table, where, columns, json);
        if (sealed !== undefined) while (sealed.length < columns.length) sealed.push(false);
        compiled = this.remember(byTable, key, {
          stmt: shared.db.prepare(`UPDATE ${quote(table)} SET ${sets.join(', ')}${clause}`),
          columns,
          json,
          parse: [],
          sealed,
        });
      }
      return compiled.stmt.run(
        bindAll(params, compiled, compiled.sealed === undefined ? undefined : this.cipherFor(table)),
      );
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
      const byTable = shared.compiled.get(table) ?? this.tableCache(shared, table);
      if (where === undefined)
        throw new DatabaseError('delete() needs a where clause ({} for every row)', { code: 'ERR_DB_VALUE' });
      const params: unknown[] = [];
      const compiled = this.whereStatement(
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

  /** The cached statement for a where-only call shape (count, delete), compiled on first use. */
  private whereStatement(
    shared: SharedConnection,
    byTable: ShapeCache,
    table: string,
    tag: string,
    where: Where | undefined,
    params: unknown[],
    sql: (clause: string) => string,
  ): Compiled {
    const key = tag + whereShape(where, params);
    const cached = byTable.get(key);
    if (cached !== undefined) return cached;
    const columns: string[] = [];
    const json: boolean[] = [];
    const clause = this.compileWhere(shared, table, where, columns, json);
    return this.remember(byTable, key, { stmt: shared.db.prepare(sql(clause)), columns, json, parse: [] });
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
      if (DDL.test(sql)) this.invalidateSchema();
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
      const columns = [...this.info(shared, table, true).encrypted];
      if (columns.length === 0)
        throw new DatabaseError(`Table "${table}" has no ENCRYPTED columns`, { code: 'ERR_DB_VALUE' });
      const cipher = this.cipherFor(table);
      const list = (shared.db.pragma(`table_list(${quote(table)})`) as { wr: number }[])[0];
      const keys = list !== undefined && list.wr === 1 ? (shared.primaryKeys.get(table) ?? []) : ['rowid'];
      const select = `SELECT ${[...keys, ...columns].map(quote).join(', ')} FROM ${quote(table)}`;
      const update = shared.db.prepare(
        `UPDATE ${quote(table)} SET ${columns.map((c) => `${quote(c)} = ?`).join(', ')} WHERE ${keys.map((k) => `${quote(k)} = ?`).join(' AND ')}`,
      );
      const rotate = (row: unknown[]): boolean => {
        const values: unknown[] = [];
        let tokens = 0;
        for (let i = 0; i < columns.length; i++) {
          const stored = row[keys.length + i];
          if (stored === null) values.push(null);
          else {
            const where = keys.map((k, j) => `${k} ${String(row[j])}`).join(', ');
            values.push(cipher.rotate(stored, table, columns[i] as string, where));
            tokens++;
          }
        }
        if (tokens === 0) return false;
        update.run(...values, ...row.slice(0, keys.length));
        return true;
      };
      return shared.immediate(() => {
        let count = 0;
        if (keys[0] === 'rowid' && keys.length === 1) {
          // Pages by rowid: better-sqlite3 cannot write while a read iterator is open, and a whole table may not fit in memory.
          const page = shared.db.prepare(`${select} WHERE rowid > ? ORDER BY rowid LIMIT 500`).raw(true);
          let after: unknown = -Infinity;
          for (;;) {
            const rows = page.all(after) as unknown[][];
            for (const row of rows) if (rotate(row)) count++;
            if (rows.length < 500) break;
            after = (rows[rows.length - 1] as unknown[])[0];
          }
        } else {
          for (const row of shared.db.prepare(select).raw(true).all() as unknown[][]) if (rotate(row)) count++;
        }
        return count;
      }) as number;
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

  /** Forget cached schemas and compiled statements (after DDL or migrations). */
  private invalidateSchema(): void {
    const shared = this.shared;
    if (shared === undefined) return;
    shared.tables.clear();
    shared.compiled.clear();
    shared.primaryKeys.clear();
  }

  /** Validate a table name and create its compiled-statement cache. */
  private tableCache(shared: SharedConnection, table: string): ShapeCache {
    this.info(shared, table);
    const byTable = new ShapeCache();
    shared.compiled.set(table, byTable);
    return byTable;
  }

  private remember(byTable: ShapeCache, key: string, compiled: Compiled): Compiled {
    // Many IN-list lengths or ad-hoc where tuples could otherwise grow the cache without bound.
    if (byTable.size >= MAX_SHAPES_PER_TABLE) byTable.clear();
    byTable.set(key, compiled);
    return compiled;
  }

  /** The table's columns, loaded from PRAGMA table_info (and declared JSON columns); throws if it does not exist. */
  private info(shared: SharedConnection, table: string, refresh = false): TableInfo {
    let info = refresh ? undefined : shared.tables.get(table);
    if (info !== undefined) return info;
    assertIdentifier(table, 'table');
    const rows = shared.db.pragma(`table_info(${quote(table)})`) as { name: string; type: string; pk: number }[];
    if (rows.length === 0) {
      throw new DatabaseError(`No such table "${table}"`, { code: 'ERR_DB_NO_TABLE' });
    }
    const declared = shared.declaredJson.get(table);
    const declaredSealed = shared.declaredEncrypted.get(table);
    info = { columns: new Set(), json: new Set(), encrypted: new Set() };
    const pk: { name: string; pk: number }[] = [];
    for (const row of rows) {
      info.columns.add(row.name);
      // An ENCRYPTED column holds tokens, never JSON text, whatever an older declaration said.
      if (isEncryptedType(row.type) || declaredSealed?.has(row.name) === true) info.encrypted.add(row.name);
      else if (isJsonType(row.type) || declared?.has(row.name) === true) info.json.add(row.name);
      if (row.pk > 0) pk.push(row);
    }
    shared.tables.set(table, info);
    shared.primaryKeys.set(
      table,
      pk.sort((a, b) => a.pk - b.pk).map((r) => r.name),
    );
    return info;
  }

  /** Throw unless `column` is a valid identifier naming a column of the table (or its rowid). */
  private checkColumn(shared: SharedConnection, table: string, info: TableInfo, column: string): void {
    assertIdentifier(column, 'column');
    if (info.columns.has(column)) return;
    // The schema may have changed under us (ALTER TABLE from another connection): look once more.
    if (this.info(shared, table, true).columns.has(column)) return;
    if (ROWID.has(column.toLowerCase())) return;
    throw new DatabaseError(`Unknown column "${column}" in table "${table}"`, { code: 'ERR_DB_IDENTIFIER' });
  }

  private columnRef(shared: SharedConnection, table: string, spec: string): ColumnRef {
    const ref = parseColumnRef(spec);
    this.checkColumn(shared, table, this.info(shared, table), ref.column);
    return ref;
  }

  /** SQL of a column reference as a value: `"col"` or `"col" ->> '$.path'`. */
  private static valueSql(ref: ColumnRef): string {
    return ref.path === undefined ? quote(ref.column) : `(${quote(ref.column)} ->> '${ref.path}')`;
  }

  /** Compile a where clause (cold path), appending per-parameter column names and JSON flags. */
  private compileWhere(
    shared: SharedConnection,
    table: string,
    where: Where | undefined,
    columns: string[],
    json: boolean[],
  ): string {
    if (where === undefined) return '';
    if (Array.isArray(where)) {
      for (let i = 1; i < where.length; i++) {
        columns.push(`where parameter ${i}`);
        json.push(false);
      }
      return ` WHERE (${where[0] as string})`;
    }
    const parts: string[] = [];
    for (const k in where as WhereObject) {
      const v = (where as WhereObject)[k];
      if (/\s/.test(k))
        throw new DatabaseError(`Invalid where key ${JSON.stringify(k).slice(0, 80)}`, { code: 'ERR_DB_IDENTIFIER' });
      const ref = this.columnRef(shared, table, k);
      // IS NULL is allowed: NULL is stored as NULL, so it tells nothing the file does not.
      if (this.info(shared, table).encrypted.has(ref.column) && (v !== null || ref.path !== undefined))
        throw encryptedQueryError(table, ref.column, 'a where clause');
      const isJson = ref.path === undefined && this.info(shared, table).json.has(ref.column);
      const lhs = Database.valueSql(ref);
      if (v === null) {
        parts.push(`${lhs} IS NULL`);
      } else if (Array.isArray(v)) {
        parts.push(`${lhs} IN (${v.map(() => '?').join(', ')})`);
        for (let j = 0; j < v.length; j++) {
          columns.push(k);
          json.push(isJson);
        }
      } else {
        parts.push(`${lhs} = ?`);
        columns.push(k);
        json.push(isJson);
      }
    }
    return parts.length === 0 ? '' : ` WHERE ${parts.join(' AND ')}`;
  }

  private fetchCompiled(shared: SharedConnection, table: string, options: FetchOptions, params: unknown[]): Compiled {
    const byTable = shared.compiled.get(table) ?? this.tableCache(shared, table);
    const { limit, offset } = options;
    let compiled: Compiled | undefined;
    const last = byTable.lastFetch;
    if (last !== undefined) {
      if (sameFetchShape(last, options, params)) compiled = last.compiled;
      else params.length = 0;
    }
    if (compiled === undefined) {
      let key = 'f';
      const cols = options.columns;
      if (cols !== undefined) {
        for (let i = 0; i < cols.length; i++) {
          const c = cols[i] as string;
          key += c.length + ':' + c;
        }
      }
      key += '|' + whereShape(options.where, params);
      const order = options.orderBy;
      if (order !== undefined) {
        if (typeof order === 'string') key += 'o' + order.length + ':' + order;
        else for (let i = 0; i < order.length; i++) key += 'O' + (order[i] as string).length + ':' + order[i];
      }
      if (limit !== undefined) key += 'l';
      if (offset !== undefined) key += 'f';
      compiled = byTable.get(key) ?? this.compileFetch(shared, byTable, table, options, key);
      byTable.lastFetch = fastShape(compiled, options);
    }
    if (limit !== undefined) {
      if (!Number.isInteger(limit) || limit < 0)
        throw new DatabaseError('limit must be a non-negative integer', { code: 'ERR_DB_VALUE' });
      params.push(limit);
    }
    if (offset !== undefined) {
      if (!Number.isInteger(offset) || offset < 0)
        throw new DatabaseError('offset must be a non-negative integer', { code: 'ERR_DB_VALUE' });
      params.push(offset);
    }
    return compiled;
  }

  private compileFetch(
    shared: SharedConnection,
    byTable: ShapeCache,
    table: string,
    options: FetchOptions,
    key: string,
  ): Compiled {
    const info = this.info(shared, table);
    const parse: string[] = [];
    const opened: string[] = [];
    let select: string;
    const cols = options.columns;
    if (cols === undefined || cols.length === 0) {
      if (cols !== undefined && !Array.isArray(cols))
        throw new DatabaseError('columns must be an array', { code: 'ERR_DB_VALUE' });
      select = '*';
      for (const c of info.json) parse.push(c);
      for (const c of info.encrypted) opened.push(c);
    } else {
      if (!Array.isArray(cols))
        throw new DatabaseError('columns must be an array of strings', { code: 'ERR_DB_VALUE' });
      const parts: string[] = [];
      for (const spec of cols) {
        const ref = this.columnRef(shared, table, spec);
        if (this.info(shared, table).encrypted.has(ref.column)) {
          if (ref.path !== undefined)
            throw encryptedQueryError(table, ref.column, 'a JSON path (fetch the column and read the value)');
          opened.push(ref.alias);
        }
        if (ref.path !== undefined) {
          // `->` yields JSON text for every type, so strings, numbers and objects all parse back exactly.
          parts.push(`${quote(ref.column)} -> '${ref.path}' AS ${quote(ref.alias)}`);
          parse.push(ref.alias);
        } else {
          parts.push(ref.alias === ref.column ? quote(ref.column) : `${quote(ref.column)} AS ${quote(ref.alias)}`);
          if (this.info(shared, table).json.has(ref.column)) parse.push(ref.alias);
        }
      }
      select = parts.join(', ');
    }
    const columns: string[] = [];
    const json: boolean[] = [];
    let sql = `SELECT ${select} FROM ${quote(table)}${this.compileWhere(shared, table, options.where, columns, json)}`;
    const order = options.orderBy;
    if (order !== undefined) {
      const items = typeof order === 'string' ? order.split(',') : order;
      if (!Array.isArray(items) || items.length === 0)
        throw new DatabaseError('orderBy must be a string or array', { code: 'ERR_DB_VALUE' });
      const parts = items.map((item: unknown) => {
        const { ref, direction } = parseOrderItem(item);
        this.checkColumn(shared, table, this.info(shared, table), ref.column);
        if (this.info(shared, table).encrypted.has(ref.column)) throw encryptedQueryError(table, ref.column, 'orderBy');
        return `${Database.valueSql(ref)} ${direction}`;
      });
      sql += ` ORDER BY ${parts.join(', ')}`;
    }
    if (options.limit !== undefined) {
      sql += ' LIMIT ?';
      columns.push('limit');
      json.push(false);
    }
    if (options.offset !== undefined) {
      // SQLite only accepts OFFSET after a LIMIT; -1 means no limit.
      if (options.limit === undefined) sql += ' LIMIT -1';
      sql += ' OFFSET ?';
      columns.push('offset');
      json.push(false);
    }
    return this.remember(byTable, key, {
      stmt: shared.db.prepare(sql),
      columns,
      json,
      parse,
      opened: opened.length === 0 ? undefined : opened,
    });
  }

  private insertMany(
    shared: SharedConnection,
    byTable: ShapeCache,
    table: string,
    rows: readonly RowInput[],
    upsert: UpsertOptions | undefined,
  ): RunResult {
    let changes = 0;
    let lastInsertRowid: number | bigint = 0;
    for (let i = 0; i < rows.length; i++) {
      const result = this.insertRow(shared, byTable, table, rows[i] as Row, upsert);
      changes += result.changes;
      if (result.changes > 0) lastInsertRowid = result.lastInsertRowid;
    }
    return { changes, lastInsertRowid };
  }

  private insertRow(
    shared: SharedConnection,
    byTable: ShapeCache,
    table: string,
    row: Row,
    upsert: UpsertOptions | undefined,
  ): RunResult {
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      throw new DatabaseError('Each row must be an object of column values', { code: 'ERR_DB_VALUE' });
    }
    const last = upsert === undefined ? byTable.lastInsert : undefined;
    if (last !== undefined) {
      // Fast path: same keys in the same order as the previous insert (property keys are interned strings,
      // so this is pointer comparison); values are converted in the same pass.
      const cols = last.columns;
      const json = last.json;
      const sealed = last.sealed;
      const cipher = sealed === undefined ? undefined : this.cipherFor(table);
      const n = cols.length;
      const values = new Array<SqlValue>(n);
      let i = 0;
      for (const k in row) {
        const v = row[k];
        if (v === undefined) continue;
        if (i >= n || cols[i] !== k) {
          i = -1;
          break;
        }
        if (sealed !== undefined && sealed[i] === true) values[i] = (cipher as ColumnCipher).seal(v, k);
        else values[i] = json[i] === true ? toJson(v, k) : toSql(v, k);
        i++;
      }
      if (i === n) return last.stmt.run(...values);
    }
    let key = upsert === undefined ? 'i' : 'p';
    for (const k in row) {
      if (row[k] === undefined) continue;
      key += k.length + ':' + k;
    }
    if (upsert !== undefined) key += '|' + upsertShape(upsert);
    const compiled = byTable.get(key) ?? this.compileInsert(shared, byTable, table, row, upsert, key);
    if (upsert === undefined) byTable.lastInsert = compiled;
    const columns = compiled.columns;
    const json = compiled.json;
    const sealed = compiled.sealed;
    const cipher = sealed === undefined ? undefined : this.cipherFor(table);
    const values = new Array<SqlValue>(columns.length);
    for (let i = 0; i < columns.length; i++) {
      const column = columns[i] as string;
      if (sealed !== undefined && sealed[i] === true) values[i] = (cipher as ColumnCipher).seal(row[column], column);
      else values[i] = json[i] === true ? toJson(row[column], column) : toSql(row[column], column);
    }
    return compiled.stmt.run(...values);
  }

  private compileInsert(
    shared: SharedConnection,
    byTable: ShapeCache,
    table: string,
    row: Row,
    upsert: UpsertOptions | undefined,
    key: string,
  ): Compiled {
    const info = this.info(shared, table);
    const columns: string[] = [];
    const json: boolean[] = [];
    for (const k in row) {
      if (row[k] === undefined) continue;
      this.checkColumn(shared, table, info, k);
      columns.push(k);
      json.push(this.info(shared, table).json.has(k));
    }
    let sql =
      columns.length === 0
        ? `INSERT INTO ${quote(table)} DEFAULT VALUES`
        : `INSERT INTO ${quote(table)} (${columns.map(quote).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`;
    if (upsert !== undefined) {
      if (columns.length === 0) throw new DatabaseError('upsert() needs at least one column', { code: 'ERR_DB_VALUE' });
      const conflict =
        upsert.conflict === undefined
          ? (shared.primaryKeys.get(table) ?? [])
          : typeof upsert.conflict === 'string'
            ? [upsert.conflict]
            : [...upsert.conflict];
      if (conflict.length === 0) {
        throw new DatabaseError(`upsert() on "${table}": no primary key, pass options.conflict`, {
          code: 'ERR_DB_VALUE',
        });
      }
      for (const c of conflict) {
        this.checkColumn(shared, table, info, c);
        if (this.info(shared, table).encrypted.has(c)) throw encryptedQueryError(table, c, 'an upsert conflict target');
      }
      const update = upsert.update === undefined ? columns.filter((c) => !conflict.includes(c)) : [...upsert.update];
      for (const c of update) this.checkColumn(shared, table, info, c);
      sql += ` ON CONFLICT (${conflict.map(quote).join(', ')}) DO `;
      sql +=
        update.length === 0
          ? 'NOTHING'
          : `UPDATE SET ${update.map((c) => `${quote(c)} = excluded.${quote(c)}`).join(', ')}`;
    }
    return this.remember(byTable, key, {
      stmt: shared.db.prepare(sql),
      columns,
      json,
      parse: [],
      sealed: this.sealedFlags(shared, table, columns),
    });
  }

  /** Per column: whether it is ENCRYPTED; undefined when none is (the common case costs nothing per value). */
  private sealedFlags(shared: SharedConnection, table: string, columns: readonly string[]): boolean[] | undefined {
    const encrypted = this.info(shared, table).encrypted;
    if (encrypted.size === 0) return undefined;
    const flags = columns.map((c) => encrypted.has(c));
    if (!flags.includes(true)) return undefined;
    this.cipherFor(table);
    return flags;
  }

  /** This instance's cipher; throws when it was opened without `encryptionKey` (another opener declared the columns). */
  private cipherFor(table: string): ColumnCipher {
    const cipher = this.cipher;
    if (cipher === undefined) {
      throw new DatabaseError(
        `Table "${table}" has ENCRYPTED columns: open the Database with the "encryptionKey" option to read or write them`,
        { code: 'ERR_DB_OPTIONS' },
      );
    }
    return cipher;
  }

  /** Decrypt the listed result keys of each row in place. */
  private openRows(table: string, rows: unknown[], keys: readonly string[]): void {
    const cipher = this.cipherFor(table);
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r] as Record<string, unknown>;
      for (let k = 0; k < keys.length; k++) {
        const key = keys[k] as string;
        row[key] = cipher.open(row[key], table, key);
      }
    }
  }
}

/** Whether a fetch call has the remembered fast shape; collects the where parameters when it does. */
function sameFetchShape(last: FetchShape, options: FetchOptions, params: unknown[]): boolean {
  const cols = options.columns;
  const lastCols = last.columns;
  if (cols !== lastCols) {
    if (cols === undefined || lastCols === undefined || cols.length !== lastCols.length) return false;
    for (let i = 0; i < cols.length; i++) if (cols[i] !== lastCols[i]) return false;
  }
  if (options.orderBy !== last.orderBy) return false;
  if ((options.limit !== undefined) !== last.limit || (options.offset !== undefined) !== last.offset) return false;
  const where = options.where;
  const keys = last.whereKeys;
  if (where === undefined) return keys === undefined;
  if (keys === undefined || Array.isArray(where)) return false;
  let i = 0;
  for (const k in where as WhereObject) {
    const v = (where as WhereObject)[k];
    if (i >= keys.length || keys[i] !== k || v === null || v === undefined || Array.isArray(v)) return false;
    params.push(v);
    i++;
  }
  return i === keys.length;
}

/** The fast-path shape of a fetch call, or undefined when the call is not eligible. */
function fastShape(compiled: Compiled, options: FetchOptions): FetchShape | undefined {
  const { where, orderBy, columns } = options;
  if (orderBy !== undefined && typeof orderBy !== 'string') return undefined;
  let whereKeys: string[] | undefined;
  if (where !== undefined) {
    if (Array.isArray(where)) return undefined;
    whereKeys = [];
    for (const k in where as WhereObject) {
      const v = (where as WhereObject)[k];
      if (v === null || v === undefined || Array.isArray(v)) return undefined;
      whereKeys.push(k);
    }
  }
  return {
    compiled,
    columns: columns === undefined ? undefined : [...columns],
    whereKeys,
    orderBy,
    limit: options.limit !== undefined,
    offset: options.offset !== undefined,
  };
}

function upsertShape(options: UpsertOptions): string {
  let key = '';
  const { conflict, update } = options;
  if (typeof conflict === 'string') key += 'c' + conflict.length + ':' + conflict;
  else if (conflict !== undefined) for (const c of conflict) key += 'C' + c.length + ':' + c;
  key += '|';
  if (update !== undefined) {
    key += 'u';
    for (const c of update) key += c.length + ':' + c;
  }
  return key;
}
