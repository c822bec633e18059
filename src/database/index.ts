/**
 * `gatehouse/db`: the SQLite layer, `Database` over better-sqlite3 with declared tables, JSON columns,
 * `column::json.path` reads, validated identifiers, migrations and one shared connection per file.
 * better-sqlite3 itself loads when the first connection opens.
 */
export { Database } from './database.js';
export type { DatabaseOptions, Migration, TableDeclarations } from './database.js';
export type {
  BindParams,
  FetchOptions,
  Row,
  RowInput,
  RunResult,
  UpsertOptions,
  Where,
  WhereObject,
  WhereSql,
} from './types.js';
export type { Durability } from './connection.js';
export type { SqlValue } from './json-columns.js';
export { DatabaseError } from './errors.js';
export type { DatabaseErrorCode, DatabaseErrorOptions } from './errors.js';
