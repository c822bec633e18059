import { defaultLogger, type Logger } from '../logger.js';
import { optionChecks } from '../options.js';
import { LifecycleError } from './errors.js';
import type { Lifecycle } from './lifecycle.js';
import type { CheckState, HealthCheckResult, StatusValue } from './check-types.js';
import { StateCheck, type StateCheckOptions } from './state-check.js';
import { LIFECYCLE_STATES, type LifecycleState } from './states.js';

export type { CheckState, HealthCheckResult, StatusValue };

/** A status check: returns (or resolves to) a result, or just a state. Throwing or hanging makes it RED. */
export type HealthCheckFunction = () => HealthCheckResult | CheckState | Promise<HealthCheckResult | CheckState>;

/** Options for {@link HealthBoard.addCheck}. */
export interface HealthCheckOptions {
  /** A critical check that is RED makes `/ready` answer 503. @defaultValue false */
  critical?: boolean;
  /** How long the check may take before it counts as RED, in ms. @defaultValue the board's `checkTimeoutMs` (2000) */
  timeoutMs?: number;
}

/** A status field: a value, or a function computing it per request (a throwing or slow one reports `null`). */
export type StatusField = StatusValue | (() => StatusValue | Promise<StatusValue>);

/** The `/status` document. */
export interface StatusReport {
  /** Worst state of all checks (OK when there are none). */
  status: CheckState;
  /** The lifecycle state. */
  lifecycle: LifecycleState;
  /** Every check's result, by name. */
  checks: Record<string, HealthCheckResult>;
  /** Service name and the fields added with `addStatusField`. */
  [field: string]: unknown;
}

/** The `/ready` verdict. */
export interface Readiness {
  /** Whether the instance should get traffic. */
  ready: boolean;
  /** Why not: `starting`, `decommissioned`, `lifecycle:<STATE>`, `check:<name>`. */
  reasons: string[];
  /** The lifecycle state. */
  lifecycle: LifecycleState;
}

/** Options for {@link HealthBoard}. */
export interface HealthBoardOptions {
  /** Service name, shown as `name` in the JSON status. @defaultValue 'gatehouse' */
  name?: string;
  /** Default check timeout, in ms. @defaultValue 2000 */
  checkTimeoutMs?: number;
  /** Logger (a child is taken). @defaultValue the gatehouse default logger */
  logger?: Logger;
}

/** A polled check (a function run per request) or a pushed one (a {@link StateCheck} holding its state). */
type Check =
  | { name: string; critical: boolean; timeoutMs: number; fn: HealthCheckFunction; pushed?: undefined }
  | { name: string; critical: boolean; pushed: StateCheck };

const NAME = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;
const RESERVED = new Set(['status', 'lifecycle', 'checks', 'name']);
const SEVERITY: Readonly<Record<CheckState, number>> = { OK: 0, YELLOW: 1, RED: 2 };
const TIMED_OUT = Symbol('timed out');

/**
 * Status checks and fields behind `/ready` and `/status`, with JSON, text and Prometheus renderings. A check that
 * throws, returns garbage or outlives its timeout is RED; nothing a check does turns into a 500.
 *
 * @example
 * ```ts
 * portal.addCheck('database', () => (db.ping() ? { state: 'OK' } : { state: 'RED', detail: 'no answer' }), { critical: true, timeoutMs: 500 });
 * portal.addStatusField('version', '1.2.3');
 * ```
 */
export class HealthBoard {
  private readonly checks = new Map<string, Check>();
  private readonly fields = new Map<string, StatusField>();
  private readonly name: string;
  private readonly defaultTimeoutMs: number;
  private readonly log: Logger;
  /** Startup checks still running: readiness answers `starting` until none is left. */
  private starting = 0;

  constructor(
    private readonly lifecycle: Lifecycle,
    options: HealthBoardOptions = {},
  ) {
    this.name = options.name ?? 'gatehouse';
    this.defaultTimeoutMs = checkTimeout(options.checkTimeoutMs ?? 2000, 'HealthBoard', 'checkTimeoutMs');
    this.log = (options.logger ?? defaultLogger()).child({ component: 'health' });
  }

  /** Refuse a name that is not a label (letters, digits, `_.:-`) or that a check has already. */
  private checkName(method: string, name: string): void {
    if (typeof name !== 'string' || !NAME.test(name))
      throw new LifecycleError(`${method}: name must match ${NAME.source}, got ${JSON.stringify(name)}`, {
        code: 'ERR_HEALTH_CONFIG',
      });
    const taken = this.checks.get(name);
    if (taken)
      throw new LifecycleError(
        `${method}: a ${taken.pushed ? 'push-style' : 'polled'} check named ${name} already exists`,
        { code: 'ERR_HEALTH_CONFIG' },
      );
  }

  /** Register a check under a unique name (letters, digits, `_.:-`; used as the Prometheus label). */
  addCheck(name: string, fn: HealthCheckFunction, options: HealthCheckOptions = {}): this {
    this.checkName('addCheck', name);
    if (typeof fn !== 'function')
      throw new LifecycleError(`addCheck ${name}: the check must be a function`, { code: 'ERR_HEALTH_CONFIG' });
    const timeoutMs = checkTimeout(options.timeoutMs ?? this.defaultTimeoutMs, `addCheck ${name}`, 'timeoutMs');
    this.checks.set(name, { name, fn, critical: options.critical === true, timeoutMs });
    return this;
  }

  /**
   * Register a push-style check in `initial` state and return it: the application calls `set()` when the state
   * changes. It shares the names of polled checks (a clash is refused either way).
   */
  stateCheck(name: string, initial: CheckState, options: StateCheckOptions = {}): StateCheck {
    this.checkName('stateCheck', name);
    const check = new StateCheck(name, initial, options.extra, this.log);
    this.checks.set(name, { name, critical: options.critical === true, pushed: check });
    this.log.debug(
      { check: name, state: check.state, critical: options.critical === true },
      'push-style status check registered',
    );
    return check;
  }

  /** Add a field to the JSON status: a value, or a function called per request. */
  addStatusField(name: string, value: StatusField): this {
    if (typeof name !== 'string' || !NAME.test(name))
      throw new LifecycleError(`addStatusField: name must match ${NAME.source}, got ${JSON.stringify(name)}`, {
        code: 'ERR_HEALTH_CONFIG',
      });
    if (RESERVED.has(name))
      throw new LifecycleError(`addStatusField: ${name} is reserved`, { code: 'ERR_HEALTH_CONFIG' });
    this.fields.set(name, value);
    return this;
  }

  /** Run every check (in parallel, each within its timeout) and build the status document. */
  async status(): Promise<StatusReport> {
    const [checks, fields] = await Promise.all([this.runChecks([...this.checks.values()]), this.resolveFields()]);
    let worst: CheckState = 'OK';
    for (const name in checks) if (SEVERITY[checks[name]!.state] > SEVERITY[worst]) worst = checks[name]!.state;
    const report: StatusReport = { status: worst, lifecycle: this.lifecycle.status, checks };
    report.name = this.name;
    for (const [k, v] of fields) report[k] = v;
    return report;
  }

  /**
   * Hold readiness at `starting` until the returned function is called (once; later calls do nothing): how a
   * startup check keeps `/ready` at 503 while the service warms up.
   */
  holdReadiness(): () => void {
    this.starting++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.starting--;
    };
  }

  /** Whether the instance is ready: started, not decommissioned, ACTIVE, and no critical check RED. */
  async readiness(): Promise<Readiness> {
    const reasons: string[] = [];
    if (this.starting > 0) reasons.push('starting');
    const snap = this.lifecycle.snapshot;
    if (snap.decommissioned) reasons.push('decommissioned');
    if (snap.state !== 'ACTIVE') reasons.push(`lifecycle:${snap.state}`);
    const critical = [...this.checks.values()].filter((c) => c.critical);
    if (critical.length > 0) {
      const results = await this.runChecks(critical);
      for (const name in results) if (results[name]!.state === 'RED') reasons.push(`check:${name}`);
    }
    return { ready: reasons.length === 0, reasons, lifecycle: this.lifecycle.status };
  }

  private async runChecks(list: readonly Check[]): Promise<Record<string, HealthCheckResult>> {
    const results = await Promise.all(list.map((c) => this.runCheck(c)));
    const out: Record<string, HealthCheckResult> = {};
    for (let i = 0; i < list.length; i++) out[list[i]!.name] = results[i]!;
    return out;
  }

  private async runCheck(check: Check): Promise<HealthCheckResult> {
    if (check.pushed) return check.pushed.result;
    let value: unknown;
    try {
      value = await withTimeout(() => check.fn(), check.timeoutMs);
    } catch (err) {
      this.log.warn({ err, check: check.name }, 'status check threw; reporting RED');
      return { state: 'RED', detail: 'check failed' };
    }
    if (value === TIMED_OUT) {
      this.log.warn({ check: check.name, timeoutMs: check.timeoutMs }, 'status check timed out; reporting RED');
      return { state: 'RED', detail: `check timed out after ${check.timeoutMs} ms` };
    }
    if (value === 'OK' || value === 'YELLOW' || value === 'RED') return { state: value };
    if (value !== null && typeof value === 'object') {
      const v = value as { state?: unknown; detail?: unknown };
      if (v.state === 'OK' || v.state === 'YELLOW' || v.state === 'RED') {
        return v.detail === undefined ? { state: v.state } : { state: v.state, detail: String(v.detail) };
      }
    }
    this.log.warn({ check: check.name }, 'status check returned no valid state; reporting RED');
    return { state: 'RED', detail: 'check returned no valid state' };
  }

  private async resolveFields(): Promise<Array<[string, unknown]>> {
    return Promise.all(
      [...this.fields].map(async ([name, field]): Promise<[string, unknown]> => {
        if (typeof field !== 'function') return [name, field];
        try {
          const v = await withTimeout(field, this.defaultTimeoutMs);
          return [name, v === TIMED_OUT ? null : v];
        } catch (err) {
          this.log.warn({ err, field: name }, 'status field failed; reporting null');
          return [name, null];
        }
      }),
    );
  }
}

/** A check's timeout in ms, refused with `ERR_HEALTH_CONFIG` (a check definition, not a lifecycle option). */
function checkTimeout(value: unknown, owner: string, option: string): number {
  const check = optionChecks(owner, (m) => new LifecycleError(m, { code: 'ERR_HEALTH_CONFIG' }));
  return check.int(option, value, { min: 1, max: 300_000 });
}

function withTimeout<T>(fn: () => T | Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(TIMED_OUT), ms);
    timer.unref();
    let r: T | Promise<T>;
    try {
      r = fn();
    } catch (err) {
      clearTimeout(timer);
      reject(err as Error);
      return;
    }
    Promise.resolve(r).then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err as Error);
      },
    );
  });
}

/** Output formats of `/status`. */
export type StatusFormat = 'json' | 'text' | 'prometheus';

/** Content types per status format. */
export const STATUS_CONTENT_TYPES: Readonly<Record<StatusFormat, string>> = {
  json: 'application/json; charset=utf-8',
  text: 'text/plain; charset=utf-8',
  prometheus: 'text/plain; version=0.0.4; charset=utf-8',
};

/** Pick the `/status` format from an Accept header: Prometheus for `text/plain; version=0.0.4`, text for `text/plain`, else JSON. */
export function statusFormatFor(accept: string | undefined): StatusFormat {
  if (!accept) return 'json';
  const a = accept.toLowerCase();
  if (a.includes('application/openmetrics-text') || (a.includes('text/plain') && /version\s*=\s*0\.0\.4/.test(a)))
    return 'prometheus';
  if (a.includes('application/json') || a.includes('application/problem+json')) return 'json';
  if (a.includes('text/plain')) return 'text';
  return 'json';
}

/** Render a status report in a format. */
export function renderStatus(report: StatusReport, format: StatusFormat): string {
  if (format === 'json') return JSON.stringify(report);
  if (format === 'text') {
    let out = '';
    for (const name in report.checks) out += `${name} ${report.checks[name]!.state}\n`;
    return out;
  }
  let out =
    '# HELP gatehouse_check_state Status check state: 0 OK, 1 YELLOW, 2 RED.\n# TYPE gatehouse_check_state gauge\n';
  for (const name in report.checks)
    out += `gatehouse_check_state{name="${name}"} ${SEVERITY[report.checks[name]!.state]}\n`;
  out +=
    '# HELP gatehouse_lifecycle_state Lifecycle state: 1 for the current state, 0 for the others.\n# TYPE gatehouse_lifecycle_state gauge\n';
  for (const state of LIFECYCLE_STATES)
    out += `gatehouse_lifecycle_state{state="${state}"} ${state === report.lifecycle ? 1 : 0}\n`;
  return out;
}
