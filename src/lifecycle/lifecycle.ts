import { hostname } from 'node:os';
import { defaultLogger, type Logger } from '../logger.js';
import { createLifecycleSource } from './create-source.js';
import { LifecycleError, ServiceUnavailableError, lifecycleChecks } from './errors.js';
import {
  resolveLifecycleOptions,
  type LifecycleGateStep,
  type LifecycleOptions,
  type LifecycleRouteMode,
} from './options.js';
import type { LifecycleSource } from './sources.js';
import {
  LIFECYCLE_CODES,
  validateRecord,
  type InactiveState,
  type LifecycleRecord,
  type LifecycleState,
} from './states.js';

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

const check = lifecycleChecks('Lifecycle');
const ROUTE_MODES: readonly LifecycleRouteMode[] = ['gated', 'exempt', 'forced'];
const FAIL_CLOSED_MESSAGE = 'The service is offline: its lifecycle state cannot be determined.';
/**
 * The level a change of state is logged at, by the state entered: coming back to ACTIVE informs, a gated state
 * warns (someone chose it, or a source in fail-closed mode did), FAILED is an error (as a RED check is).
 */
const TRANSITION_LEVEL = {
  ACTIVE: 'info',
  PAUSED: 'warn',
  MAINTENANCE: 'warn',
  OFFLINE: 'warn',
  FAILED: 'error',
} as const satisfies Record<LifecycleState, 'info' | 'warn' | 'error'>;

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
    const o = resolveLifecycleOptions(options);
    this.log = (options.logger ?? defaultLogger()).child({ component: 'lifecycle' });
    this.failMode = o.failMode;
    this.defaultRetryAfterSec = o.retryAfterSec;
    this.messages = o.messages;
    this.statusCodes = o.statusCodes;
    this.source = createLifecycleSource(options);
    this.current = this.resolve(null);
    this.load();
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
    if (mode !== 'gated') check.oneOf('lifecycle', mode, ROUTE_MODES);
    return () => {
      if (this.current.state !== 'ACTIVE') throw this.problem() as ServiceUnavailableError;
    };
  }

  /** Re-read the source now (sources that watch call this themselves). */
  refresh(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.reread(undefined);
  }

  /** Re-read the source, starting from a read already under way (`first`) when there is one. */
  private reread(first: Promise<LifecycleRecord | null> | undefined): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      let pending = first;
      do {
        this.refreshAgain = false;
        await this.loadAsync(pending);
        pending = undefined;
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

  /** The first read, at construction. */
  private load(): void {
    let r: ReturnType<LifecycleSource['read']>;
    try {
      r = this.source.read();
    } catch (err) {
      this.sourceFailed(err);
      return;
    }
    if (r instanceof Promise) {
      // An asynchronous source: this very read is awaited (reading again would leave its rejection unhandled,
      // which ended the process when Redis was slow to connect at start).
      void this.reread(r);
      return;
    }
    this.loaded(r);
  }

  private async loadAsync(pending?: Promise<LifecycleRecord | null>): Promise<void> {
    let r: LifecycleRecord | null;
    try {
      r = await (pending ?? this.source.read());
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
    this.log.info({ source: this.source.name }, 'lifecycle source recovered');
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
    this.log[TRANSITION_LEVEL[next.state]](
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
