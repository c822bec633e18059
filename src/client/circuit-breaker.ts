/**
 * Per-origin circuit breaker: consecutive failures open it, a single half-open probe after the cool-down
 * closes it again (or re-opens it). Time is read from a clock, never from timers, so it keeps nothing alive.
 */

/** State of one origin's circuit. */
export type CircuitState = 'closed' | 'open' | 'half-open';

interface Entry {
  failures: number;
  state: CircuitState;
  openedAt: number;
  probing: boolean;
}

/** Outcome of one attempt as the breaker sees it. */
export type AttemptVerdict = 'success' | 'failure' | 'neutral';

/** Circuit breakers keyed by origin (one registry per client). */
export class CircuitBreakerRegistry {
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;

  /**
   * @param now - clock in ms (injectable for tests)
   */
  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /**
   * May an attempt to `origin` go out? In `half-open` only one probe is admitted at a time.
   *
   * @param origin - e.g. `http://127.0.0.1:8080`
   * @param cooldownMs - how long an open circuit stays open
   */
  allow(origin: string, cooldownMs: number): boolean {
    const e = this.#entries.get(origin);
    if (e === undefined || e.state === 'closed') return true;
    if (e.state === 'open') {
      if (this.#now() - e.openedAt < cooldownMs) return false;
      e.state = 'half-open';
      e.probing = true;
      return true;
    }
    if (e.probing) return false;
    e.probing = true;
    return true;
  }

  /**
   * Record the outcome of an admitted attempt.
   *
   * @param origin - the attempt's origin
   * @param verdict - success closes, failure counts (or re-opens a half-open circuit), neutral only frees the probe slot
   * @param threshold - consecutive failures that open the circuit
   */
  record(origin: string, verdict: AttemptVerdict, threshold: number): void {
    let e = this.#entries.get(origin);
    if (verdict === 'success') {
      if (e !== undefined) this.#entries.delete(origin);
      return;
    }
    if (verdict === 'neutral') {
      if (e !== undefined) e.probing = false;
      return;
    }
    if (e === undefined) {
      e = { failures: 0, state: 'closed', openedAt: 0, probing: false };
      this.#entries.set(origin, e);
    }
    e.failures++;
    if (e.state === 'half-open' || e.failures >= threshold) {
      e.state = 'open';
      e.openedAt = this.#now();
      e.probing = false;
    }
  }

  /**
   * Current state of an origin's circuit (`closed` when unknown).
   *
   * @param origin - e.g. `http://127.0.0.1:8080`
   */
  state(origin: string): CircuitState {
    return this.#entries.get(origin)?.state ?? 'closed';
  }

  /** Forget every circuit (all close). */
  reset(): void {
    this.#entries.clear();
  }
}
