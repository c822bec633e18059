import { backoffDelay, resolveBackoff, type BackoffOptions, type ResolvedBackoff } from '../backoff.js';
import type { Logger } from '../logger.js';
import { LifecycleError } from './errors.js';
import type { HealthBoard } from './health.js';

/** A startup check: resolves once the service is warm (cache loaded, migrations run, a dependency reachable). */
export type StartupCheckFunction = () => unknown;

/** Options of a startup check. Every field is optional. */
export interface StartupCheckOptions {
  /** How long to wait before retrying a check that rejected (the one gatehouse backoff). @defaultValue exponential from 200 ms up to 10 s, full jitter */
  backoff?: BackoffOptions;
}

const STARTUP_BACKOFF = { type: 'exponential', delayMs: 200, maxDelayMs: 10_000, jitter: 'full' } as const;

/**
 * Startup checks: each runs at once and, when it rejects, again after the gatehouse backoff until it resolves;
 * until every check has resolved the board's readiness answers `starting`. Each is shown on `/status` as a check
 * of its own name (YELLOW while starting, with the last failure; OK once done).
 */
export class StartupChecks {
  private stopped = false;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly board: HealthBoard,
    private readonly log: Logger,
  ) {}

  /** Register and start a check. */
  add(name: string, fn: StartupCheckFunction, options: StartupCheckOptions = {}): void {
    if (typeof fn !== 'function')
      throw new LifecycleError(`startupCheck ${String(name)}: the check must be a function`, {
        code: 'ERR_HEALTH_CONFIG',
      });
    const backoff = resolveBackoff(options.backoff, {
      defaults: STARTUP_BACKOFF,
      jitter: 'full',
      option: `startupCheck ${String(name)}: backoff`,
      error: (m) => new LifecycleError(m, { code: 'ERR_HEALTH_CONFIG' }),
    });
    const state = this.board.stateCheck(name, 'YELLOW', { extra: { detail: 'starting', attempts: 0 } });
    const release = this.board.holdReadiness();
    const started = Date.now();
    let attempts = 0;
    const attempt = (): void => {
      if (this.stopped) return;
      attempts++;
      let r: unknown;
      try {
        r = fn();
      } catch (err) {
        failed(err);
        return;
      }
      Promise.resolve(r).then(
        () => {
          if (this.stopped) return;
          state.set('OK', { detail: 'started', attempts, tookMs: Date.now() - started });
          release();
        },
        (err: unknown) => failed(err),
      );
    };
    const failed = (err: unknown): void => {
      if (this.stopped) return;
      const delay = backoffDelay(backoff as ResolvedBackoff, attempts);
      const message = err instanceof Error ? err.message : String(err);
      state.set('YELLOW', { detail: `starting: attempt ${attempts} failed: ${message}`, attempts, retryInMs: delay });
      this.log.warn({ check: name, attempts, retryInMs: delay, err }, `startup check ${name} failed; retrying`);
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        attempt();
      }, delay);
      timer.unref();
      this.timers.add(timer);
    };
    attempt();
  }

  /** Stop retrying (the portal is closing). Safe to call twice. */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
