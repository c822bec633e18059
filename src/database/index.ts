/**
 * The SQLite layer of gatehouse: `Database` over better-sqlite3 with declared tables, JSON columns,
 * `column::json.path` reads, validated identifiers, migrations and one shared connection per file.
 */
export { Database } from './database.js';
export type {
  BindParams,
  DatabaseOptions,
  Durability,
  FetchOptions,
  Migration,
  Row,
  RowInput,
  RunResult,
  TableDeclarations,
  UpsertOptions,
  Where,
  WhereObject,
  WhereSql,
} from './database.js';
export { DatabaseError } from './errors.js';
export type { DatabaseErrorCode } from './errors.js';
export { IDENTIFIER_PATTERN } from './identifiers.js';
export type { SqlValue } from './json-columns.js';
