/**
 * The SQLite layer of gatehouse: `Database` over better-sqlite3 with declared tables, JSON columns,
 * `column::json.path` reads, validated identifiers, migrations and one shared connection per file.
 */
export { Database } from './database.js';
export type {
  BindParams,
  DatabaseOptions,
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
// The connection layer, for other capabilities that keep their own tables in SQLite (the queue engine).
// Not re-exported from the package entry.
export { acquire as openConnection, release as releaseConnection, openSettingsProblem } from './connection.js';
export type { Durability, OpenSettings, SharedConnection } from './connection.js';
export type { SqlValue } from './json-columns.js';
