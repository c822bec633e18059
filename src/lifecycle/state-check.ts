import type { Logger } from '../logger.js';
import { LifecycleError } from './errors.js';
import type { CheckState, HealthCheckResult, StatusValue } from './check-types.js';

/** Extra properties of a push-style check's state: `detail`, and anything else shown in the JSON status only. */
export interface StateCheckExtra {
  /** Free text shown in the JSON status. */
  detail?: string | undefined;
  /** Anything else: JSON values, shown in the JSON status only (not in text or Prometheus). */
  [key: string]: StatusValue | undefined;
}

/** Options for `portal.stateCheck()`. */
export interface StateCheckOptions {
  /** A critical check that is RED makes `/ready` answer 503. @defaultValue false */
  critical?: boolean;
  /** Extra properties of the initial state, e.g. `{ detail: 'starting' }`. @defaultValue none */
  extra?: StateCheckExtra;
}

const STATES: ReadonlySet<string> = new Set(['OK', 'YELLOW', 'RED']);

/** Reject anything but OK, YELLOW or RED, naming the value (and pointing GREEN users at OK). */
export function checkStateName(where: string, state: unknown): CheckState {
  if (typeof state === 'string' && STATES.has(state)) return state as CheckState;
  const hint = typeof state === 'string' && state.toUpperCase() === 'GREEN' ? ' (use OK for green)' : '';
  throw new LifecycleError(
    `${where}: state must be OK, YELLOW or RED, got ${JSON.stringify(state) ?? String(state)}${hint}`,
    { code: 'ERR_HEALTH_CONFIG' },
  );
}

/**
 * A push-style status check: the application sets its state when it knows it (an indexer catching up, a
 * consumer losing its broker) instead of being polled. Shown in `/status` like polled checks; a critical one
 * that is RED makes `/ready` answer 503. Each state change is logged once; setting the same state again only
 * updates the extra properties.
 *
 * @example
 * ```ts
 * const indexer = portal.stateCheck('indexer', 'YELLOW', { critical: true });
 * indexer.set('OK', { detail: 'caught up', lagMs: 12 });
 * ```
 */
export class StateCheck {
  private current: HealthCheckResult;

  /** @internal Made by `HealthBoard.stateCheck()` / `portal.stateCheck()`. */
  constructor(
    /** The check's name in `/status`. */
    readonly name: string,
    initial: CheckState,
    extra: StateCheckExtra | undefined,
    private readonly log: Logger,
  ) {
    this.current = StateCheck.result(name, checkStateName(`stateCheck ${name}`, initial), extra);
  }

  /** The current state. */
  get state(): CheckState {
    return this.current.state;
  }

  /** The current result as `/status` shows it: `{ state, detail?, ...extra }` (a copy). */
  get result(): HealthCheckResult & Readonly<Record<string, unknown>> {
    return { ...this.current };
  }

  /**
   * Set the state and its extra properties (which replace the previous ones). Returns whether the state changed;
   * a change is logged once (warn for YELLOW, error for RED, info for OK). A bad state or extra that is not plain
   * JSON throws and leaves the check as it was.
   */
  set(state: CheckState, extra?: StateCheckExtra): boolean {
    const next = StateCheck.result(this.name, checkStateName(`stateCheck ${this.name}.set`, state), extra);
    const prev = this.current.state;
    this.current = next;
    if (prev === next.state) return false;
    const level = next.state === 'RED' ? 'error' : next.state === 'YELLOW' ? 'warn' : 'info';
    this.log[level](
      { check: this.name, from: prev, to: next.state, detail: next.detail },
      `status check ${this.name} ${prev} -> ${next.state}`,
    );
    return true;
  }

  /** Validate and snapshot a state with its extras (a JSON copy, so later changes to the caller's object never show). */
  private static result(name: string, state: CheckState, extra: StateCheckExtra | undefined): HealthCheckResult {
    if (extra === undefined) return { state };
    if (extra === null || typeof extra !== 'object' || Array.isArray(extra)) {
      throw new LifecycleError(
        `stateCheck ${name}: extra properties must be an object, got ${Array.isArray(extra) ? 'an array' : String(extra)}`,
        { code: 'ERR_HEALTH_CONFIG' },
      );
    }
    if ('state' in extra)
      throw new LifecycleError(
        `stateCheck ${name}: extra properties cannot set "state"; pass it as the first argument`,
        { code: 'ERR_HEALTH_CONFIG' },
      );
    if (extra.detail !== undefined && typeof extra.detail !== 'string')
      throw new LifecycleError(`stateCheck ${name}: detail must be a string, got ${typeof extra.detail}`, {
        code: 'ERR_HEALTH_CONFIG',
      });
    let copy: Record<string, unknown>;
    try {
      copy = JSON.parse(
        JSON.stringify(extra, (_key, value: unknown) => {
          if (typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint')
            throw new TypeError(`a ${typeof value} is not JSON`);
          return value;
        }),
      ) as Record<string, unknown>;
    } catch (err) {
      throw new LifecycleError(`stateCheck ${name}: extra properties must be plain JSON (${(err as Error).message})`, {
        code: 'ERR_HEALTH_CONFIG',
        cause: err,
      });
    }
    return { state, ...copy } as HealthCheckResult;
  }
}
