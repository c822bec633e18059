import { monitorEventLoopDelay, performance, type EventLoopUtilization, type IntervalHistogram } from 'node:perf_hooks';
import type * as PromClient from 'prom-client';
import type { Registry } from 'prom-client';
import type { HealthCheckResult, LifecycleRouteMode } from '../../lifecycle/index.js';
import type { GateStep } from '../pipeline/index.js';
import { loadNow } from '../../load.js';
import type { Logger } from '../../logger.js';
import { optionChecks, withDefaults } from '../../options.js';
import { PortalError } from '../errors.js';

/**
 * Load shedding: limits on what the process may bear. While one is exceeded, gated requests, socket handshakes
 * and socket events are answered at once with 503 `ERR_OVERLOADED` and `Retry-After`, before their body is read
 * or their credentials checked. A limit set to 0 is not watched. Every field is optional.
 */
export interface OverloadOptions {
  /** Mean event-loop delay over one sample, in ms, above which requests are shed. @defaultValue 200 */
  maxEventLoopDelayMs?: number;
  /** Event-loop utilization over one sample (0 to 1) above which requests are shed. @defaultValue 0.98 */
  maxEventLoopUtilization?: number;
  /** V8 heap in use, in bytes, above which requests are shed. @defaultValue 1.5e9 */
  maxHeapUsedBytes?: number;
  /** Resident set size, in bytes, above which requests are shed. @defaultValue 2e9 */
  maxRssBytes?: number;
  /** How often the measures are sampled, in ms (a timer that never keeps the process alive). @defaultValue 500 */
  sampleIntervalMs?: number;
  /** Seconds sent as `Retry-After` on a shed request. @defaultValue 2 */
  retryAfterSec?: number;
}

/** The measures of one sample. */
export interface OverloadMeasures {
  /** Mean event-loop delay over the last sample, in ms. */
  eventLoopDelayMs: number;
  /** Event-loop utilization over the last sample, 0 to 1. */
  eventLoopUtilization: number;
  /** V8 heap in use, in bytes. */
  heapUsedBytes: number;
  /** Resident set size, in bytes. */
  rssBytes: number;
}

/** Defaults of {@link OverloadOptions}, as API.md section 16 lists them. */
export const OVERLOAD_DEFAULTS = {
  maxEventLoopDelayMs: 200,
  maxEventLoopUtilization: 0.98,
  maxHeapUsedBytes: 1.5e9,
  maxRssBytes: 2e9,
  sampleIntervalMs: 500,
  retryAfterSec: 2,
} as const satisfies Required<OverloadOptions>;

/**
 * Hysteresis: shedding starts when a measure goes over its limit and stops only once every measure is back under
 * this fraction of its limit, so a process hovering at a limit does not flip on every sample.
 */
export const RESUME_RATIO = 0.9;

/** Resolution of the event-loop delay histogram, in ms (the timer that measures the delay). */
const DELAY_RESOLUTION_MS = 10;

const MEASURES = [
  ['eventLoopDelayMs', 'maxEventLoopDelayMs', 'event loop delay', 'ms'],
  ['eventLoopUtilization', 'maxEventLoopUtilization', 'event loop utilization', ''],
  ['heapUsedBytes', 'maxHeapUsedBytes', 'heap used', ' bytes'],
  ['rssBytes', 'maxRssBytes', 'rss', ' bytes'],
] as const satisfies ReadonlyArray<readonly [keyof OverloadMeasures, keyof OverloadOptions, string, string]>;

/** Resolve and check `overload` options (`false` turns shedding off). */
export function resolveOverloadOptions(value: OverloadOptions | boolean | undefined): Required<OverloadOptions> | false {
  if (value === false) return false;
  const check = optionChecks('ServicePortal', (m) => new PortalError(m, { code: 'ERR_PORTAL_OPTIONS' }));
  if (value !== undefined && value !== true) check.object('overload', value);
  const o = withDefaults(OVERLOAD_DEFAULTS, value === true ? undefined : value);
  return {
    maxEventLoopDelayMs: check.number('overload.maxEventLoopDelayMs', o.maxEventLoopDelayMs, { min: 0 }),
    maxEventLoopUtilization: check.number('overload.maxEventLoopUtilization', o.maxEventLoopUtilization, {
      min: 0,
      max: 1,
    }),
    maxHeapUsedBytes: check.number('overload.maxHeapUsedBytes', o.maxHeapUsedBytes, { min: 0 }),
    maxRssBytes: check.number('overload.maxRssBytes', o.maxRssBytes, { min: 0 }),
    sampleIntervalMs: check.int('overload.sampleIntervalMs', o.sampleIntervalMs, { min: 10, max: 60_000 }),
    retryAfterSec: check.int('overload.retryAfterSec', o.retryAfterSec, { min: 0, max: 86_400 }),
  };
}

/**
 * Samples event-loop delay, event-loop utilization, heap and RSS on an unref'd timer and keeps one boolean,
 * `shedding`, that the request path reads: checking it is the whole per-request cost. Started with the portal's
 * `run()`, stopped by `close()`.
 */
export class OverloadMonitor {
  /** Whether gated work is being shed now (the one field the request path reads). */
  shedding = false;
  /** Requests, handshakes and events shed so far. */
  shedCount = 0;
  /** The error every shed request answers with (one instance: shedding must cost next to nothing). */
  readonly error: PortalError;
  private last: OverloadMeasures = { eventLoopDelayMs: 0, eventLoopUtilization: 0, heapUsedBytes: 0, rssBytes: 0 };
  private reason = '';
  private since = 0;
  private timer: NodeJS.Timeout | undefined;
  private histogram: IntervalHistogram | undefined;
  private elu: EventLoopUtilization | undefined;

  constructor(
    readonly options: Required<OverloadOptions>,
    private readonly log: Logger,
  ) {
    this.error = new PortalError('The service is overloaded; retry later', {
      code: 'ERR_OVERLOADED',
      retryAfterSec: options.retryAfterSec,
    });
  }

  /** The measures of the last sample. */
  get measures(): Readonly<OverloadMeasures> {
    return this.last;
  }

  /** Start sampling (idempotent). */
  start(): void {
    if (this.timer) return;
    this.histogram = monitorEventLoopDelay({ resolution: DELAY_RESOLUTION_MS });
    this.histogram.enable();
    this.elu = performance.eventLoopUtilization();
    this.timer = setInterval(() => this.sample(), this.options.sampleIntervalMs);
    this.timer.unref();
  }

  /** Stop sampling and admit everything again (idempotent). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.histogram?.disable();
    this.histogram = undefined;
    this.shedding = false;
  }

  /** Take one sample now and update `shedding` (the timer calls this; tests may too). */
  sample(): void {
    const histogram = this.histogram;
    let delay = 0;
    if (histogram) {
      // The histogram records how late its own timer fired; its resolution is the part that is not delay.
      delay = histogram.count > 0 ? Math.max(0, histogram.mean / 1e6 - DELAY_RESOLUTION_MS) : 0;
      histogram.reset();
    }
    const now = performance.eventLoopUtilization();
    const utilization = this.elu ? performance.eventLoopUtilization(now, this.elu).utilization : 0;
    this.elu = now;
    const memory = process.memoryUsage();
    this.update({
      eventLoopDelayMs: delay,
      eventLoopUtilization: utilization,
      heapUsedBytes: memory.heapUsed,
      rssBytes: memory.rss,
    });
  }

  /** Apply one sample's measures: start shedding over a limit, stop once every measure is under its resume level. */
  update(measures: OverloadMeasures): void {
    this.last = measures;
    const limits = this.options;
    if (!this.shedding) {
      for (const [key, limit, label, unit] of MEASURES) {
        const max = limits[limit];
        if (max > 0 && measures[key] > max) {
          this.shedding = true;
          this.since = Date.now();
          this.reason = `${label} ${round(measures[key])}${unit} over ${max}${unit}`;
          this.log.warn({ ...measures, reason: this.reason }, `overloaded: shedding requests (${this.reason})`);
          return;
        }
      }
      return;
    }
    for (const [key, limit] of MEASURES) {
      const max = limits[limit];
      if (max > 0 && measures[key] > max * RESUME_RATIO) return;
    }
    this.shedding = false;
    this.log.info(
      { ...measures, shedMs: Date.now() - this.since, shed: this.shedCount },
      'overload over: admitting requests again',
    );
  }

  /** The `/status` check: YELLOW while shedding, with the measures. */
  check(): HealthCheckResult {
    const m = this.last;
    const measures = `event loop delay ${round(m.eventLoopDelayMs)} ms, utilization ${round(m.eventLoopUtilization)}, heap ${Math.round(m.heapUsedBytes / 1e6)} MB, rss ${Math.round(m.rssBytes / 1e6)} MB`;
    return this.shedding
      ? { state: 'YELLOW', detail: `shedding since ${new Date(this.since).toISOString()}: ${this.reason} (${measures})` }
      : { state: 'OK', detail: measures };
  }

  /** Register `gatehouse_overload_shed_total` and `gatehouse_overload_shedding` on a portal's registry. */
  register(registry: Registry): void {
    const { Counter, Gauge } = loadNow<typeof PromClient>('prom-client');
    const shed = (): number => this.shedCount;
    const shedding = (): boolean => this.shedding;
    let reported = 0;
    new Counter({
      name: 'gatehouse_overload_shed_total',
      help: 'Requests, socket handshakes and socket events shed with 503 ERR_OVERLOADED',
      registers: [registry],
      collect() {
        const now = shed();
        this.inc(now - reported);
        reported = now;
      },
    });
    new Gauge({
      name: 'gatehouse_overload_shedding',
      help: 'Whether the process is shedding load now (1) or admitting (0)',
      registers: [registry],
      collect() {
        this.set(shedding() ? 1 : 0);
      },
    });
  }
}

function round(n: number): number {
  return n >= 10 ? Math.round(n) : Math.round(n * 100) / 100;
}

/**
 * The first guard of every gated route, socket handshake and event: shed while overloaded, then the lifecycle
 * step. `exempt` routes are never shed; `forced` ones answer 503 anyway.
 */
export function shedFirst(
  monitor: OverloadMonitor | undefined,
  mode: LifecycleRouteMode,
  lifecycle: GateStep | undefined,
): GateStep | undefined {
  if (!monitor || mode !== 'gated' || !lifecycle) return lifecycle;
  return (call) => {
    if (monitor.shedding) {
      monitor.shedCount++;
      throw monitor.error;
    }
    return lifecycle(call);
  };
}
