import { hostname } from 'node:os';
import { join } from 'node:path';
import { defaultLogger, type Logger } from '../logger.js';
import { LifecycleError, ServiceUnavailableError } from './errors.js';
import type { LifecycleRespond } from './gated-response.js';
import { RemoteControl, RemoteLifecycleSource, type RemoteControlOptions } from './remote/index.js';
import { EnvSource, FileSource, MemorySource, SqliteSource, type LifecycleSource } from './sources.js';
import {
  DEFAULT_MESSAGES,
  LIFECYCLE_CODES,
  LIFECYCLE_STATES,
  isLifecycleState,
  validateRecord,
  type InactiveState,
  type LifecycleRecord,
  type LifecycleState,
} from './states.js';

/** How a route behaves while the service is not ACTIVE (same values as `GateConfig.lifecycle`). */
export type LifecycleRouteMode = 'gated' | 'exempt' | 'forced';

/** A compiled lifecycle gate step: returns to let the call pass, throws a {@link ServiceUnavailableError} to refuse it. */
export type LifecycleGateStep = () => void;

/** Built-in state sources. */
export type LifecycleSourceName = 'memory' | 'env' | 'file' | 'sqlite' | 'redis' | 'remote';

/** Options for {@link Lifecycle} (and the portal's `lifecycle` option). Every field is optional. */
export interface LifecycleOptions {
  /**
   * Where the state lives: `'memory'` (this process only), `'env'` (`GATEHOUSE_LIFECYCLE` and
   * `GATEHOUSE_LIFECYCLE_MESSAGE`, read at start), `'file'` (a watched JSON file), `'sqlite'` (shared by every
   * process using `dataDir`, and by the `gatehouse lifecycle` CLI), `'redis'` (the fleet's key, needs the portal's
   * `redis` option), `'remote'` (a PXControl-protocol control plane, see `remote`), or your own {@link LifecycleSource}.
   * @defaultValue 'redis' when the portal has `redis`, else 'memory'
   */
  source?: LifecycleSourceName | LifecycleSource;
  /** Directory of the SQLite store. @defaultValue './data' (the portal passes its `dataDir`) */
  dataDir?: string;
  /** JSON file of the `'file'` source. @defaultValue `<dataDir>/lifecycle.json` */
  file?: string;
  /** Environment read by the `'env'` source. @defaultValue process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * The `'remote'` source: options of its {@link RemoteControl} (each also from its `PX_*` variable; `dataDir`
   * defaults to the lifecycle's), or an existing `RemoteControl` to follow (closed by its owner, not the portal).
   * @defaultValue {} (everything from the environment)
   */
  remote?: RemoteControlOptions | RemoteControl;
  /** State of the `'memory'` source at start. @defaultValue 'ACTIVE' */
  initialState?: LifecycleState;
  /**
   * What happens when the source cannot be read: `'open'` keeps the last known state (ACTIVE at start) so
   * traffic keeps flowing; `'closed'` switches to OFFLINE until the source answers again. Logged at error level.
   * @defaultValue 'open'
   */
  failMode?: 'open' | 'closed';
  /** How often the `'sqlite'` and `'file'` sources look for changes, in ms. @defaultValue 250 */
  pollIntervalMs?: number;
  /** `Retry-After` in seconds when a state is set without one. @defaultValue 60 */
  retryAfterSec?: number;
  /** Client messages per state when a state is set without one. @defaultValue the built-in messages */
  messages?: Partial<Record<InactiveState, string>>;
  /** Response status per state, e.g. `{ PAUSED: 402 }`. @defaultValue 503 for every state */
  statusCodes?: Partial<Record<InactiveState, number>>;
  /** Logger (a child is taken). @defaultValue the gatehouse default logger */
  logger?: Logger;
  /**
   * Answer gated HTTP requests your own way (a JSON body, an HTML page): write `ctx.res` or return
   * `{ json }` / `{ html }`; return nothing for the default (an HTML page for clients preferring `text/html`,
   * problem+json otherwise). Used by the portal; a hook that throws gets the default problem+json answer.
   * @defaultValue none
   */
  respond?: LifecycleRespond;
  /**
   * Name this process is listed under in a shared store's followers (`gatehouse lifecycle status`).
   * @defaultValue the logger's `service` field (the portal's `name`), else 'gatehouse'
   */
  name?: string;
}

/** Options for {@link Lifecycle.set}. */
export interface SetStateOptions {
  /** Message sent to clients while the state lasts. @defaultValue the state's default message */
  message?: string;
  /** Seconds sent as `Retry-After` while the state lasts. @defaultValue the lifecycle's `retryAfterSec` */
  retryAfterSec?: number;
}

/** The lifecycle as seen right now. */
export interface LifecycleSnapshot {
  /** The state. */
  state: LifecycleState;
  /** The message clients get while not ACTIVE (resolved: never empty). */
  message: string;
  /** Explicit message set with the state, if any. */
  customMessage: string | undefined;
  /** `Retry-After` seconds while not ACTIVE (resolved). */
  retryAfterSec: number;
  /** When the state was set (epoch ms). */
  since: number;
  /** Who set it, when the source records it. */
  updatedBy: string | undefined;
  /** The source's name. */
  source: string;
  /** Whether `decommission()` was called: `/ready` answers 503. */
  decommissioned: boolean;
  /** Whether the source is currently failing (see `failMode`). */
  sourceFailing: boolean;
}

/** Told about every real state change, once. */
export type LifecycleListener = (next: LifecycleState, prev: LifecycleState, snapshot: LifecycleSnapshot) => void;

const DEFAULTS = {
  dataDir: './data',
  failMode: 'open',
  pollIntervalMs: 250,
  retryAfterSec: 60,
  initialState: 'ACTIVE',
} as const satisfies Record<string, unknown>;

const FAIL_CLOSED_MESSAGE = 'The service is offline: its lifecycle state cannot be determined.';

/**
 * The service's lifecycle state machine (ACTIVE, PAUSED, MAINTENANCE, OFFLINE, FAILED), backed by a source,
 * with listeners, the gate step routes run, and decommissioning for load balancers.
 *
 * @example
 * ```ts
 * await portal.lifecycle.set('MAINTENANCE', { message: 'Back at 10:00', retryAfterSec: 600 });
 * portal.lifecycle.onChange((next, prev) => log.info({ next, prev }, 'lifecycle changed'));
 * await portal.lifecycle.withMaintenance(() => migrate());
 * ```
 */
export class Lifecycle {
  private readonly source: LifecycleSource;
  private readonly log: Logger;
  private readonly failMode: 'open' | 'closed';
  private readonly defaultRetryAfterSec: number;
  private readonly messages: Readonly<Record<InactiveState, string>>;
  private readonly statusCodes: Readonly<Record<InactiveState, number>>;
  private readonly listeners = new Set<LifecycleListener>();
  private readonly unwatch: (() => void) | undefined;
  private current: LifecycleSnapshot;
  private failing = false;
  private closed = false;
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;

  constructor(options: LifecycleOptions = {}) {
    this.log = (options.logger ?? defaultLogger()).child({ component: 'lifecycle' });
    const failMode = options.failMode ?? DEFAULTS.failMode;
    if (failMode !== 'open' && failMode !== 'closed')
      throw new LifecycleError(`lifecycle.failMode must be 'open' or 'closed', got ${String(failMode)}`, {
        code: 'ERR_LIFECYCLE_OPTIONS',
      });
    this.failMode = failMode;
    checkPoll(options);
    const retry = options.retryAfterSec ?? DEFAULTS.retryAfterSec;
    if (validateRecord('ACTIVE', undefined, retry))
      throw new LifecycleError(`lifecycle.retryAfterSec: ${validateRecord('ACTIVE', undefined, retry) ?? ''}`, {
        code: 'ERR_LIFECYCLE_OPTIONS',
      });
    this.defaultRetryAfterSec = retry;
    this.messages = {
      ...DEFAULT_MESSAGES,
      ...checkPerState(options.messages, 'messages', (v) => typeof v === 'string' && v.length > 0),
    };
    const codes: Record<InactiveState, number> = { PAUSED: 503, MAINTENANCE: 503, OFFLINE: 503, FAILED: 503 };
    this.statusCodes = {
      ...codes,
      ...checkPerState(
        options.statusCodes,
        'statusCodes',
        (v) => Number.isInteger(v) && (v as number) >= 400 && (v as number) <= 599 && v !== 500,
      ),
    };
    checkInitial(options);

    this.source = createLifecycleSource(options);
    this.current = this.resolve(null);
    this.load(true);
    const bound = (options.logger as { bindings?: () => Record<string, unknown> } | undefined)?.bindings?.().service;
    const name = options.name ?? (typeof bound === 'string' && bound !== '' ? bound : 'gatehouse');
    this.unwatch = this.source.watch?.(() => void this.refresh(), { name });
    this.log.debug({ source: this.source.name, state: this.current.state }, 'lifecycle started');
  }

  /** The current state. */
  get status(): LifecycleState {
    return this.current.state;
  }

  /** The current state with its message, Retry-After and source details. */
  get snapshot(): LifecycleSnapshot {
    return { ...this.current };
  }

  /** Whether `decommission()` was called. */
  get decommissioned(): boolean {
    return this.current.decommissioned;
  }

  /**
   * Change the state, through the source (so a shared source gates every process). Bad input is refused with a
   * `LifecycleError` (`ERR_LIFECYCLE_INPUT`) and changes nothing.
   */
  async set(state: LifecycleState, options: SetStateOptions = {}): Promise<void> {
    if (this.closed) throw new LifecycleError('lifecycle is closed', { code: 'ERR_LIFECYCLE_CLOSED' });
    const opts: SetStateOptions = options ?? {};
    const problem = validateRecord(state, opts.message, opts.retryAfterSec);
    if (problem) throw new LifecycleError(problem, { code: 'ERR_LIFECYCLE_INPUT' });
    const record: LifecycleRecord = {
      state,
      message: opts.message === '' ? undefined : opts.message,
      retryAfterSec: opts.retryAfterSec,
      updatedAt: Date.now(),
      updatedBy: `pid ${process.pid}@${hostname()}`,
    };
    try {
      await this.source.write(record);
    } catch (err) {
      throw new LifecycleError(`lifecycle: cannot store ${state} in the ${this.source.name} source`, {
        code: 'ERR_LIFECYCLE_SOURCE',
        cause: err,
      });
    }
    if (this.failing) this.recovered();
    this.apply(this.resolve(record));
  }

  /** Listen for state changes (fired once per real change, not for re-sets of the same state); returns an unsubscribe function. */
  onChange(listener: LifecycleListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Run `fn` in MAINTENANCE, then restore the previous state, message and Retry-After, even when `fn` throws.
   *
   * @example
   * ```ts
   * await portal.lifecycle.withMaintenance(() => db.migrate(), { message: 'Upgrading', retryAfterSec: 120 });
   * ```
   */
  async withMaintenance<T>(fn: () => T | Promise<T>, options: SetStateOptions = {}): Promise<T> {
    const prev = this.current;
    await this.set('MAINTENANCE', options);
    try {
      return await fn();
    } finally {
      const restore: SetStateOptions = {};
      if (prev.customMessage !== undefined) restore.message = prev.customMessage;
      if (prev.retryAfterSec !== this.defaultRetryAfterSec) restore.retryAfterSec = prev.retryAfterSec;
      await this.set(prev.state, restore);
    }
  }

  /** Tell load balancers to stop sending traffic: `/ready` answers 503 from now on. The state is unchanged. */
  async decommission(): Promise<void> {
    if (this.current.decommissioned) return;
    this.current = { ...this.current, decommissioned: true };
    this.log.info('decommissioned: /ready now answers 503');
  }

  /**
   * The error a gated call gets for a state (default: the current one), or `undefined` when ACTIVE. Sockets use
   * it for handshakes and events: `err.code` is `SERVICE_PAUSED` | `SERVICE_MAINTENANCE` | `SERVICE_OFFLINE` | `SERVICE_FAILED`.
   */
  problem(state: LifecycleState = this.current.state): ServiceUnavailableError | undefined {
    if (state === 'ACTIVE') return undefined;
    const same = state === this.current.state;
    const message = same ? this.current.message : this.messages[state];
    const retry = same ? this.current.retryAfterSec : this.defaultRetryAfterSec;
    return new ServiceUnavailableError(message, {
      code: LIFECYCLE_CODES[state],
      status: this.statusCodes[state],
      retryAfterSec: retry,
    });
  }

  /**
   * The gate step for a route's mode: `'gated'` refuses while not ACTIVE, `'forced'` always refuses (as
   * MAINTENANCE while ACTIVE), `'exempt'` has no step.
   */
  gateStep(mode: LifecycleRouteMode = 'gated'): LifecycleGateStep | undefined {
    if (mode === 'exempt') return undefined;
    if (mode === 'forced') {
      return () => {
        throw this.problem(
          this.current.state === 'ACTIVE' ? 'MAINTENANCE' : this.current.state,
        ) as ServiceUnavailableError;
      };
    }
    if (mode !== 'gated')
      throw new LifecycleError(`lifecycle mode must be gated, exempt or forced, got ${String(mode)}`, {
        code: 'ERR_LIFECYCLE_OPTIONS',
      });
    return () => {
      if (this.current.state !== 'ACTIVE') throw this.problem() as ServiceUnavailableError;
    };
  }

  /** Re-read the source now (sources that watch call this themselves). */
  refresh(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        await this.loadAsync();
      } while (this.refreshAgain && !this.closed);
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** Stop watching and close the source. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unwatch?.();
    this.listeners.clear();
    try {
      await this.source.close?.();
    } catch (err) {
      this.log.warn({ err }, 'lifecycle source failed to close');
    }
  }

  // ---- internals -----------------------------------------------------------------------------------------

  private load(initial: boolean): void {
    let r: ReturnType<LifecycleSource['read']>;
    try {
      r = this.source.read();
    } catch (err) {
      this.sourceFailed(err);
      return;
    }
    if (r instanceof Promise) {
      if (initial) void this.refresh();
      return;
    }
    this.loaded(r);
  }

  private async loadAsync(): Promise<void> {
    let r: LifecycleRecord | null;
    try {
      r = await this.source.read();
    } catch (err) {
      this.sourceFailed(err);
      return;
    }
    if (!this.closed) this.loaded(r);
  }

  private loaded(record: LifecycleRecord | null): void {
    if (this.failing) this.recovered();
    this.apply(this.resolve(record));
  }

  private sourceFailed(err: unknown): void {
    const first = !this.failing;
    this.failing = true;
    if (this.failMode === 'closed') {
      if (first)
        this.log.error(
          { err, source: this.source.name, failMode: 'closed' },
          'LIFECYCLE SOURCE FAILED: failMode closed, refusing gated traffic as OFFLINE until it recovers',
        );
      this.apply({ ...this.resolve({ state: 'OFFLINE', message: FAIL_CLOSED_MESSAGE }), sourceFailing: true });
    } else {
      if (first)
        this.log.error(
          { err, source: this.source.name, failMode: 'open', state: this.current.state },
          `LIFECYCLE SOURCE FAILED: failMode open, keeping state ${this.current.state}`,
        );
      this.current = { ...this.current, sourceFailing: true };
    }
  }

  private recovered(): void {
    this.failing = false;
    this.log.warn({ source: this.source.name }, 'lifecycle source recovered');
  }

  private resolve(record: LifecycleRecord | null): LifecycleSnapshot {
    const state = record?.state ?? 'ACTIVE';
    const custom = record?.message || undefined;
    return {
      state,
      message: custom ?? (state === 'ACTIVE' ? 'The service is active.' : this.messages[state]),
      customMessage: custom,
      retryAfterSec: record?.retryAfterSec ?? this.defaultRetryAfterSec,
      since: record?.updatedAt ?? Date.now(),
      updatedBy: record?.updatedBy,
      source: this.source.name,
      decommissioned: (this.current as LifecycleSnapshot | undefined)?.decommissioned ?? false,
      sourceFailing: false,
    };
  }

  private apply(next: LifecycleSnapshot): void {
    const prev = this.current as LifecycleSnapshot | undefined;
    this.current = next;
    if (!prev || prev.state === next.state) return;
    this.log.warn(
      { from: prev.state, to: next.state, message: next.customMessage, by: next.updatedBy },
      `lifecycle ${prev.state} -> ${next.state}`,
    );
    const snap = { ...next };
    for (const l of this.listeners) {
      try {
        l(next.state, prev.state, snap);
      } catch (err) {
        this.log.error({ err }, 'lifecycle listener failed');
      }
    }
  }
}

function checkPoll(options: LifecycleOptions): number {
  const poll = options.pollIntervalMs ?? DEFAULTS.pollIntervalMs;
  if (!Number.isInteger(poll) || poll < 10 || poll > 60_000)
    throw new LifecycleError('lifecycle.pollIntervalMs must be an integer from 10 to 60000', {
      code: 'ERR_LIFECYCLE_OPTIONS',
    });
  return poll;
}

function checkInitial(options: LifecycleOptions): LifecycleState {
  const initial = options.initialState ?? DEFAULTS.initialState;
  if (!isLifecycleState(initial))
    throw new LifecycleError(`lifecycle.initialState must be one of ${LIFECYCLE_STATES.join(', ')}`, {
      code: 'ERR_LIFECYCLE_OPTIONS',
    });
  return initial;
}

/**
 * The state source for lifecycle options: the one place a source name (`memory`, `env`, `file`, `sqlite`, `remote`)
 * becomes a {@link LifecycleSource}; a source object is checked and returned as-is. The portal calls it from its
 * store chooser and hands the result to {@link Lifecycle}.
 */
export function createLifecycleSource(options: LifecycleOptions = {}): LifecycleSource {
  const source = options.source ?? 'memory';
  if (typeof source === 'object' && source !== null) {
    if (typeof source.read !== 'function' || typeof source.write !== 'function')
      throw new LifecycleError('lifecycle.source must have read() and write()', { code: 'ERR_LIFECYCLE_OPTIONS' });
    return source;
  }
  const poll = checkPoll(options);
  const initial = checkInitial(options);
  const dataDir = options.dataDir ?? DEFAULTS.dataDir;
  switch (source) {
    case 'memory':
      return new MemorySource(initial === 'ACTIVE' ? null : { state: initial });
    case 'env':
      return new EnvSource(options.env ?? process.env);
    case 'file':
      return new FileSource(options.file ?? join(dataDir, 'lifecycle.json'), poll);
    case 'sqlite':
      return new SqliteSource(dataDir, poll);
    case 'remote': {
      const remote = options.remote ?? {};
      if (remote instanceof RemoteControl) return new RemoteLifecycleSource(remote);
      return new RemoteLifecycleSource({ dataDir, ...(options.logger ? { logger: options.logger } : {}), ...remote });
    }
    case 'redis':
      throw new LifecycleError("lifecycle.source 'redis' needs the portal's redis option", {
        code: 'ERR_LIFECYCLE_OPTIONS',
      });
    default:
      throw new LifecycleError(
        `lifecycle.source must be memory, env, file, sqlite, redis, remote or a LifecycleSource, got ${String(source)}`,
        { code: 'ERR_LIFECYCLE_OPTIONS' },
      );
  }
}

function checkPerState<T>(
  value: Partial<Record<InactiveState, T>> | undefined,
  option: string,
  ok: (v: unknown) => boolean,
): Partial<Record<InactiveState, T>> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object')
    throw new LifecycleError(`lifecycle.${option} must be an object keyed by state`, { code: 'ERR_LIFECYCLE_OPTIONS' });
  for (const [key, v] of Object.entries(value)) {
    if (!isLifecycleState(key) || key === 'ACTIVE')
      throw new LifecycleError(`lifecycle.${option}: unknown state ${key}`, { code: 'ERR_LIFECYCLE_OPTIONS' });
    if (!ok(v))
      throw new LifecycleError(`lifecycle.${option}.${key} is not valid: ${String(v)}`, {
        code: 'ERR_LIFECYCLE_OPTIONS',
      });
  }
  return value;
}
