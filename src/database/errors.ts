/**
 * The database capability's errors: one table of codes (status and title), the `DatabaseError` class and the
 * mapping of better-sqlite3's errors to it.
 */
import { CodedError, type CodedErrorOptions, type ErrorTable } from '../errors.js';

/** Every code of the database layer with its status and title. All are server-side faults: 500. */
export const DATABASE_ERRORS = {
  /** A table, column, alias or JSON path failed validation; nothing reached SQL. */
  ERR_DB_IDENTIFIER: { status: 500, title: 'Invalid identifier' },
  /** The named table does not exist in the database. */
  ERR_DB_NO_TABLE: { status: 500, title: 'No such table' },
  /** A constructor option is missing or invalid. */
  ERR_DB_OPTIONS: { status: 500, title: 'Invalid option' },
  /** A value cannot be stored (e.g. an object in a non-JSON column, or `undefined` in a where clause). */
  ERR_DB_VALUE: { status: 500, title: 'Invalid value' },
  /** The `Database` instance was closed. */
  ERR_DB_CLOSED: { status: 500, title: 'Database closed' },
  /** A write was attempted through a read-only database. */
  ERR_DB_READONLY: { status: 500, title: 'Database is read-only' },
  /** An async function (or one returning a promise) was passed to `transaction()`. */
  ERR_DB_ASYNC_TRANSACTION: { status: 500, title: 'Asynchronous transaction' },
  /** A migration failed; it was rolled back and `user_version` was not advanced. */
  ERR_DB_MIGRATION: { status: 500, title: 'Migration failed' },
  /** A UNIQUE / NOT NULL / FOREIGN KEY / CHECK constraint failed. */
  ERR_DB_CONSTRAINT: { status: 500, title: 'Constraint failed' },
  /** The database stayed locked by another connection for longer than `busyTimeoutMs`. */
  ERR_DB_BUSY: { status: 500, title: 'Database busy' },
  /** Any other SQLite error (syntax error, malformed JSON, I/O error, ...). */
  ERR_DB_QUERY: { status: 500, title: 'Query failed' },
  /** A where, orderBy, JSON path or conflict target named an `ENCRYPTED` column (its tokens are random: they cannot be compared). */
  ERR_DB_ENCRYPTED_QUERY: { status: 500, title: 'Encrypted column in a query' },
  /** A stored token of an `ENCRYPTED` column does not open with any `encryptionKey` (wrong key, or the stored value was altered). */
  ERR_DB_DECRYPT: { status: 500, title: 'Cannot decrypt' },
} as const satisfies ErrorTable<string>;

/** Codes of the database layer: the keys of {@link DATABASE_ERRORS}. */
export type DatabaseErrorCode = keyof typeof DATABASE_ERRORS;

/** Options for {@link DatabaseError}: the code, and the underlying error (a SQLite error supplies `sqliteCode`). */
export type DatabaseErrorOptions = CodedErrorOptions<DatabaseErrorCode>;

/**
 * The error of the database layer. `code` is one of {@link DatabaseErrorCode}; `sqliteCode` carries the
 * original SQLite code (e.g. `'SQLITE_CONSTRAINT_UNIQUE'`) when the error came from SQLite.
 */
export class DatabaseError extends CodedError<DatabaseErrorCode> {
  /** The SQLite extended result code, when the error came from SQLite. */
  readonly sqliteCode: string | undefined;

  constructor(message: string, options: DatabaseErrorOptions) {
    super(message, options, DATABASE_ERRORS);
    const sqlite = options.cause as { code?: unknown } | undefined;
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
    return new DatabaseError(err.message, { code: mapped, cause: err });
  }
  // better-sqlite3 reports misuse (wrong parameter count, multiple statements, ...) as TypeError/RangeError.
  if (misuse && (err instanceof TypeError || err instanceof RangeError)) {
    return new DatabaseError(err.message, { code: 'ERR_DB_QUERY', cause: err });
  }
  return err;
}
