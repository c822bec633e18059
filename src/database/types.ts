/**
 * The value types of the `Database` calls (rows, where clauses, fetch and upsert options, write results), apart
 * from the facade so the SQL compiler can use them without importing the facade.
 */

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

/** Options of `Database.fetch`. */
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

/** Options of `Database.upsert`. */
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
