import { LifecycleError } from './errors.js';
import type { Follower, FollowerInfo } from './followers.js';
import { validateRecord, type LifecycleRecord, type LifecycleState } from './states.js';

/**
 * Where the lifecycle state lives. A source is read once at start and again whenever it says it changed;
 * `set()` writes through it. Implement this to plug in Redis or a remote control plane.
 */
export interface LifecycleSource {
  /** Short name for logs and `/admin/lifecycle`, e.g. `'sqlite'`. */
  readonly name: string;
  /** The current record, or `null` when the source holds none (treated as ACTIVE). Throw when it cannot be read. */
  read(): LifecycleRecord | null | Promise<LifecycleRecord | null>;
  /** Persist a record. Throw when it cannot be written. */
  write(record: LifecycleRecord): void | Promise<void>;
  /**
   * Call `changed` whenever the record may have changed elsewhere; returns a function that stops watching. A shared
   * store also keeps a heartbeat entry for `follower` while watched (see `followers()`).
   */
  watch?(changed: () => void, follower?: FollowerInfo): () => void;
  /** The heartbeat entries of the processes following this store (shared stores only). */
  followers?(): Follower[] | Promise<Follower[]>;
  /** Release handles. Safe to call twice. */
  close?(): void | Promise<void>;
}

/** The process-local source: the state lives in memory only. */
export class MemorySource implements LifecycleSource {
  readonly name: string = 'memory';
  private record: LifecycleRecord | null;
  constructor(initial: LifecycleRecord | null = null) {
    this.record = initial;
  }
  /** The stored record. */
  read(): LifecycleRecord | null {
    return this.record;
  }
  /** Replace the stored record. */
  write(record: LifecycleRecord): void {
    this.record = { ...record };
  }
}

/** Environment variable holding the initial state. */
export const ENV_STATE = 'GATEHOUSE_LIFECYCLE';
/** Environment variable holding the initial message. */
export const ENV_MESSAGE = 'GATEHOUSE_LIFECYCLE_MESSAGE';
/** Environment variable holding the initial Retry-After seconds. */
export const ENV_RETRY_AFTER = 'GATEHOUSE_LIFECYCLE_RETRY_AFTER';

/**
 * The state from the environment (`GATEHOUSE_LIFECYCLE`, `GATEHOUSE_LIFECYCLE_MESSAGE`,
 * `GATEHOUSE_LIFECYCLE_RETRY_AFTER`), read at start. Later `set()` calls live in memory (the environment of a
 * running process cannot be changed from outside).
 */
export class EnvSource implements LifecycleSource {
  readonly name: string = 'env';
  private override: LifecycleRecord | null = null;
  constructor(private readonly env: Readonly<Record<string, string | undefined>> = process.env) {}

  /** The override set at runtime, else the environment's state; throws on an unknown state name. */
  read(): LifecycleRecord | null {
    if (this.override) return this.override;
    const raw = this.env[ENV_STATE];
    if (raw === undefined || raw.trim() === '') return null;
    const state = raw.trim().toUpperCase();
    const message = this.env[ENV_MESSAGE] || undefined;
    const retryRaw = this.env[ENV_RETRY_AFTER];
    const retryAfterSec = retryRaw === undefined || retryRaw === '' ? undefined : Number(retryRaw);
    const problem = validateRecord(state, message, retryAfterSec);
    if (problem) throw new LifecycleError(`${ENV_STATE}: ${problem}`, { code: 'ERR_LIFECYCLE_SOURCE' });
    return { state: state as LifecycleState, message, retryAfterSec };
  }

  /** Keep a runtime change in memory. */
  write(record: LifecycleRecord): void {
    this.override = { ...record };
  }
}

/** Parse a stored record (file or database row); throws a LifecycleError naming what is wrong. */
export function parseRecord(value: unknown, where: string): LifecycleRecord {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new LifecycleError(`${where}: expected an object with a "state"`, { code: 'ERR_LIFECYCLE_SOURCE' });
  const v = value as Record<string, unknown>;
  const state = typeof v.state === 'string' ? v.state.toUpperCase() : v.state;
  const message = v.message === null ? undefined : v.message;
  const retryAfterSec = v.retryAfterSec === null ? undefined : v.retryAfterSec;
  const problem = validateRecord(state, message, retryAfterSec);
  if (problem) throw new LifecycleError(`${where}: ${problem}`, { code: 'ERR_LIFECYCLE_SOURCE' });
  return {
    state: state as LifecycleState,
    message: message as string | undefined,
    retryAfterSec: retryAfterSec as number | undefined,
    updatedAt: typeof v.updatedAt === 'number' ? v.updatedAt : undefined,
    updatedBy: typeof v.updatedBy === 'string' ? v.updatedBy : undefined,
  };
}

/** Parse a stored record's JSON text (a file, a Redis key); throws a LifecycleError naming `where` and what is wrong. */
export function parseStoredRecord(text: string, where: string): LifecycleRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new LifecycleError(`${where}: not valid JSON`, { code: 'ERR_LIFECYCLE_SOURCE', cause: err });
  }
  return parseRecord(value, where);
}
