/**
 * Schema migrations: an ordered list, each applied once inside its own IMMEDIATE transaction and tracked
 * with `PRAGMA user_version` (= number of migrations applied). Safe when several processes start at once:
 * the version is re-read under the write lock before each step.
 */
import type { Logger } from 'pino';
import type { SharedConnection } from './connection.js';
import { DatabaseError, toDatabaseError } from './errors.js';

/** One migration: an SQL script (may hold several statements) or a function run inside the transaction. */
export type Migration<D> = string | ((db: D) => void);

function userVersion(shared: SharedConnection): number {
  return shared.db.pragma('user_version', { simple: true }) as number;
}

/**
 * Apply the migrations that `user_version` says are pending.
 * @param shared - the connection
 * @param migrations - the ordered list
 * @param target - passed to function migrations (the `Database`)
 * @param readonly - whether the connection is read-only (pending migrations are then an error)
 * @param log - logger for progress
 * @returns how many migrations this call applied
 */
export function runMigrations<D>(
  shared: SharedConnection,
  migrations: readonly Migration<D>[],
  target: D,
  readonly: boolean,
  log: Logger,
): number {
  const total = migrations.length;
  const start = userVersion(shared);
  if (start > total) {
    log.warn({ userVersion: start, migrations: total }, 'database is newer than the migrations list');
    return 0;
  }
  if (start === total) return 0;
  if (readonly) {
    throw new DatabaseError(`Database has ${total - start} pending migration(s) but was opened read-only`, {
      code: 'ERR_DB_MIGRATION',
    });
  }
  let applied = 0;
  for (;;) {
    let step = -1;
    try {
      shared.immediate(() => {
        const current = userVersion(shared);
        if (current >= total) return;
        step = current;
        const migration = migrations[current];
        if (typeof migration === 'string') shared.db.exec(migration);
        else if (typeof migration === 'function') migration(target);
        else
          throw new DatabaseError(`Migration ${current + 1} is neither SQL nor a function`, {
            code: 'ERR_DB_MIGRATION',
          });
        shared.db.pragma(`user_version = ${current + 1}`);
      });
    } catch (err) {
      const mapped = toDatabaseError(err, false);
      throw new DatabaseError(
        `Migration ${step + 1} of ${total} failed and was rolled back: ${(mapped as Error).message ?? String(err)}`,
        { code: 'ERR_DB_MIGRATION', cause: mapped },
      );
    }
    if (step === -1) break;
    applied++;
    log.info({ migration: step + 1, of: total }, 'database migration applied');
  }
  return applied;
}
