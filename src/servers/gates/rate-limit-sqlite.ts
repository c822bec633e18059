import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type * as RateLimiterFlexible from 'rate-limiter-flexible';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { Database } from '../../database/index.js';
import { loadNow } from '../../load.js';
import type { RateLimiterSpec, RateLimitStore } from './rate-limit-store.js';

/** Counters in `<dataDir>/gatehouse-ratelimit.db`, shared by the processes of one host; the file opens on first use. */
export class SqliteRateLimitStore implements RateLimitStore {
  readonly name = 'sqlite';
  private db: Database | undefined;
  private count = 0;

  constructor(private readonly dataDir: string) {}

  /** A SQLite-backed limiter for one rule. */
  limiter(spec: RateLimiterSpec): RateLimiterAbstract {
    if (!this.db) {
      mkdirSync(this.dataDir, { recursive: true });
      // Database sets busy_timeout before switching to WAL, so processes starting together don't trip on a lock.
      this.db = new Database({ path: join(this.dataDir, 'gatehouse-ratelimit.db') });
    }
    this.count++;
    // One limiter per file sweeps expired rows; more would repeat the same DELETE.
    // The limiter creates its table asynchronously; with a callback a store closed before that settles gets no
    // unhandled rejection, and a table that truly cannot be created fails the first consume instead.
    const { RateLimiterSQLite } = loadNow<typeof RateLimiterFlexible>('rate-limiter-flexible');
    return new RateLimiterSQLite(
      {
        ...spec,
        storeClient: this.db.raw(),
        storeType: 'better-sqlite3',
        tableName: 'rate_limits',
        clearExpiredByTimeout: this.count === 1,
      },
      () => undefined,
    );
  }

  /** Close the shared SQLite handle, if any. Safe to call twice. */
  close(): void {
    void this.db?.close();
    this.db = undefined;
  }
}
