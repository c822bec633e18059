import { GatehouseError, type DatabaseErrorCode } from '../errors.js';

export type { DatabaseErrorCode };

/** Options for {@link DatabaseError}. */
export interface DatabaseErrorOptions {
  /** Stable machine-readable code. */
  code: DatabaseErrorCode;
  /** The underlying error (a SQLite error supplies `sqliteCode`). */
  cause?: unknown;
}

/**
 * The error of the database layer. `code` is one of {@link DatabaseErrorCode}; `sqliteCode` carries the
 * original SQLite code (e.g. `'SQLITE_CONSTRAINT_UNIQUE'`) when the error came from SQLite.
 */
export class DatabaseError extends GatehouseError {
  declare readonly code: DatabaseErrorCode;
  /** The SQLite extended result code, when the error came from SQLite. */
  readonly sqliteCode: string | undefined;

  constructor(message: string, options: DatabaseErrorOptions) {
    super(message, { code: options.code, cause: options.cause, status: 500 });
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
