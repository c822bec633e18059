/** The options, events and dead letters of a DatabaseBuffer (types only). */
import type { Database, Durability } from '../database/index.js';
import type { Logger } from '../logger.js';
import type { BufferedWrite } from './database-buffer-writes.js';
import type { TaskErrorHook } from './task-types.js';

/** A write that could not be applied (constraint violation, missing table, bad SQL), kept for inspection. */
export interface DeadWrite {
  id: number;
  write: BufferedWrite;
  error: string | null;
  failedAt: number | null;
}

/** Events of a DatabaseBuffer. */
export interface DatabaseBufferEvents {
  /** A batch of `count` writes was committed to the main database. */
  applied: [count: number];
  /** A write failed on its own and was moved to dead letters; the writes around it were applied. */
  dead: [write: BufferedWrite, error: Error];
}

/** Options of a DatabaseBuffer. */
export interface DatabaseBufferOptions {
  /** The main database: a path (opened as a gatehouse `Database`) or an open `Database` (not closed by stop). */
  mainDb?: string | Database;
  /** Directory of the queue store file. @defaultValue './data' */
  dataDir?: string;
  /** Explicit queue store file path (overrides `dataDir`). @defaultValue `${dataDir}/gatehouse-queues.db` */
  file?: string;
  /** Queue name inside the store. @defaultValue `'db-writes:' + absolute path of mainDb` */
  queue?: string;
  /** Durability of the recorded writes (queue store), and of the main database when `mainDb` is a path. @defaultValue 'normal' */
  durability?: Durability;
  /** Wait for another process's write lock up to this many ms. @defaultValue 5000 */
  busyTimeoutMs?: number;
  /** Maximum writes applied in one main-database transaction. @defaultValue 500 */
  batchSize?: number;
  /** Lease of a batch being applied, in ms; a batch of a crashed process is replayed after this. @defaultValue 30000 */
  leaseMs?: number;
  /** How often to look for writes recorded by other processes, in ms. @defaultValue 500 */
  pollIntervalMs?: number;
  /** Wait before retrying after the main database stayed locked, in ms. @defaultValue 1000 */
  retryDelayMs?: number;
  /** Largest serialised write (UTF-8 bytes of its JSON) a call accepts. @defaultValue 1048576 (1 MiB) */
  maxPayloadBytes?: number;
  /** Called when a write is dead-lettered: `(op, write, error, stack)`. @defaultValue none */
  onError?: TaskErrorHook;
  /**
   * A started buffer keeps the process alive until `stop()`; `false` lets the process exit while it waits
   * (recorded writes stay stored and are applied by the next start). @defaultValue true
   */
  keepAlive?: boolean;
  /** Logger (a child `{ component: 'database-buffer' }` is taken). @defaultValue the gatehouse default logger */
  logger?: Logger;
}
