import { GatehouseError } from '../errors.js';

/** Stable codes of every error the database layer throws. */
export type DatabaseErrorCode =
  /** A table, column, alias or JSON path failed validation; nothing reached SQL. */
  | 'ERR_DB_IDENTIFIER'
  /** The named table does not exist in the database. */
  | 'ERR_DB_NO_TABLE'
  /** A constructor option is missing or invalid. */
  | 'ERR_DB_OPTIONS'
  /** A value cannot be stored (e.g. an object in a non-JSON column, or `undefined` in a where clause). */
  | 'ERR_DB_VALUE'
  /** The `Database` instance was closed. */
  | 'ERR_DB_CLOSED'
  /** A write was attempted through a read-only database. */
  | 'ERR_DB_READONLY'
  /** An async function (or one returning a promise) was passed to `transaction()`. */
  | 'ERR_DB_ASYNC_TRANSACTION'
  /** A migration failed; it was rolled back and `user_version` was not advanced. */
  | 'ERR_DB_MIGRATION'
  /** A UNIQUE / NOT NULL / FOREIGN KEY / CHECK constraint failed. */
  | 'ERR_DB_CONSTRAINT'
  /** The database stayed locked by another connection for longer than `busyTimeoutMs`. */
  | 'ERR_DB_BUSY'
  /** Any other SQLite error (syntax error, malformed JSON, I/O error, ...). */
  | 'ERR_DB_QUERY';

/**
 * The error of the database layer. `code` is one of {@link DatabaseErrorCode}; `sqliteCode` carries the
 * original SQLite code (e.g. `'SQLITE_CONSTRAINT_UNIQUE'`) when the error came from SQLite.
 */
export class DatabaseError extends GatehouseError {
  declare readonly code: DatabaseErrorCode;
  /** The SQLite extended result code, when the error came from SQLite. */
  readonly sqliteCode: string | undefined;

  /**
   * Create a database error.
   * @param message - human-readable description
   * @param code - stable machine-readable code
   * @param cause - underlying error, if any
   */
  constructor(message: string, code: DatabaseErrorCode, cause?: unknown) {
    super(message, { code, cause, status: 500 });
    const sqlite = cause as { code?: unknown } | undefined;
    this.sqliteCode =
      sqlite && typeof sqlite.code === 'string' && sqlite.code.startsWith('SQLITE_') ? sqlite.code : undefined;
  }
}

/**
 * Map an error thrown by better-sqlite3 to a `DatabaseError`; other errors pass through unchanged.
 * @param err - the caught error
 * @param misuse - also map TypeError/RangeError (better-sqlite3's API-misuse errors); false where user
 *   code may have thrown them (inside `transaction()`)
 * @returns the error to rethrow
 */
export function toDatabaseError(err: unknown, misuse: boolean = true): unknown {
  if (err instanceof DatabaseError) return err;
  if (!(err instanceof Error)) return err;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('SQLITE_')) {
    let mapped: DatabaseErrorCode = 'ERR_DB_QUERY';
    if (code.startsWith('SQLITE_CONSTRAINT')) mapped = 'ERR_DB_CONSTRAINT';
    else if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) mapped = 'ERR_DB_BUSY';
    else if (code.startsWith('SQLITE_READONLY')) mapped = 'ERR_DB_READONLY';
    return new DatabaseError(err.message, mapped, err);
  }
  // better-sqlite3 reports misuse (wrong parameter count, multiple statements, ...) as TypeError/RangeError.
  if (misuse && (err instanceof TypeError || err instanceof RangeError)) {
    return new DatabaseError(err.message, 'ERR_DB_QUERY', err);
  }
  return err;
}
