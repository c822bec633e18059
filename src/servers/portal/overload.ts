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
 * Hysteresis: a sample counts as "over" when a measure is above its limit, "under" only when every measure is
 * below this fraction of its limit; between the two the shed share holds, so a process hovering at a limit does
 * not flip on every sample.
 */
export const RESUME_RATIO = 0.9;

/** Share of time gated work is shed on the first sample over a limit, and how much more on each further one. */
export const SHED_STEP_UP = 0.25;
/** Least decrease of the shed share per sample with every measure under its resume level. */
export const SHED_STEP_DOWN_MIN = 0.05;
/** Most decrease of the shed share per sample (admission comes back in steps, not at once). */
export const SHED_STEP_DOWN_MAX = 0.25;
/**
 * Consecutive samples with the event loop over a limit (delay or utilization) before that alone starts shedding:
 * one blocked stretch (a long synchronous import at startup, a GC pause, a starved CPU) sheds nothing, since a
 * single long block can push one sample's mean delay over any limit. Heap and RSS move slowly: over those limits,
 * shedding starts at once.
 */
export const LOOP_SAMPLES_TO_START = 2;
/** A shed share below this is none: the overload is over. */
const SHED_MIN = 0.05;
/** Slots per sample interval: shedding is switched on and off per slot, spreading the shed share evenly. */
const SLOTS_PER_SAMPLE = 10;

/**
 * Resolution of the event-loop delay histogram, in ms (the timer that measures the delay). Each tick wakes an idle
 * process: at 10 ms that cost about 0.5% of a core on the 2-core benchmark machine, at 20 ms half that, while the
 * delay limit (200 ms) needs nothing finer.
 */
const DELAY_RESOLUTION_MS = 20;

const MEASURES = [
  ['eventLoopDelayMs', 'maxEventLoopDelayMs', 'event loop delay', 'ms'],
  ['eventLoopUtilization', 'maxEventLoopUtilization', 'event loop utilization', ''],
  ['heapUsedBytes', 'maxHeapUsedBytes', 'heap used', ' bytes'],
  ['rssBytes', 'maxRssBytes', 'rss', ' bytes'],
] as const satisfies ReadonlyArray<readonly [keyof OverloadMeasures, keyof OverloadOptions, string, string]>;

/** Resolve and check `overload` options (`false` turns shedding off). */
export function resolveOverloadOptions(
  value: OverloadOptions | boolean | undefined,
): Required<OverloadOptions> | false {
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
 * `shedding`, that the request path reads: checking it is the whole per-request cost.
 *
 * Shedding everything for a whole sample after each sample over a limit halves goodput (the process idles while
 * it sheds, then takes the full load again), so the monitor keeps a shed share instead. Each sample over a limit
 * sheds a quarter more of the time (all of it after four; the event loop's measures alone start it on their second
 * sample in a row, so one blocked stretch sheds nothing); a sample with a measure between 90% of its limit and
 * the limit holds the share (hysteresis); a sample with every measure under 90% of its limit sheds less: by at
 * least 5 and at most 25 points, down to what the utilization says the process can take (the middle of its
 * band). Under 5% the overload is over. The share is applied in slots of a tenth of the sample interval (shed or
 * admit, spread evenly), so admitted requests never queue behind more than a slot of excess load. Started with the portal's `run()`, stopped by `close()`.
 */
export class OverloadMonitor {
  /** Whether gated work is shed at this moment (the one field the request path reads). */
  shedding = false;
  /** Requests, handshakes and events shed so far. */
  shedCount = 0;
  /** The error every shed request answers with (one instance: shedding must cost next to nothing). */
  readonly error: PortalError;
  /** Share of time shed, 0 (admitting everything) to 1 (shedding everything). */
  private share = 0;
  /** Consecutive samples with the event loop (delay or utilization) over a limit. */
  private loopOverSamples = 0;
  /** Error diffusion of the share over slots. */
  private carry = 0;
  private last: OverloadMeasures = { eventLoopDelayMs: 0, eventLoopUtilization: 0, heapUsedBytes: 0, rssBytes: 0 };
  private reason = '';
  private since = 0;
  private timer: NodeJS.Timeout | undefined;
  private slotTimer: NodeJS.Timeout | undefined;
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

  /** Whether the process is over a limit (shedding part or all of the gated work) since a sample said so. */
  get overloaded(): boolean {
    return this.share > 0;
  }

  /** Share of time gated work is shed now, 0 to 1. */
  get shedShare(): number {
    return this.share;
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
    this.setShare(0);
  }

  /** Take one sample now and update the shed share (the timer calls this). */
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

  /** Apply one sample's measures to the shed share (see the class comment). */
  update(sampled: OverloadMeasures): void {
    this.last = sampled;
    const limits = this.options;
    // A loop that is fully used but still turns quickly is busy, not overloaded: a closed-loop client keeps any
    // saturated server at utilization 1, and shedding cheap requests frees nothing (a 503 costs what an answer
    // does), so utilization counts only while the loop also lags (a twentieth of the delay limit, 10 ms by default).
    const lagging = limits.maxEventLoopDelayMs <= 0 || sampled.eventLoopDelayMs >= limits.maxEventLoopDelayMs / 20;
    const measures = lagging ? sampled : { ...sampled, eventLoopUtilization: 0 };
    let over: string | undefined;
    let under = true;
    let onlyLoop = true;
    let loopOver = false;
    for (const [key, limit, label, unit] of MEASURES) {
      const max = limits[limit];
      if (max <= 0) continue;
      if (measures[key] > max) {
        over ??= `${label} ${round(measures[key])}${unit} over ${max}${unit}`;
        if (key === 'eventLoopUtilization' || key === 'eventLoopDelayMs') loopOver = true;
        else onlyLoop = false;
        under = false;
      } else if (measures[key] > max * RESUME_RATIO) under = false;
    }
    const share = this.share;
    const maxElu = limits.maxEventLoopUtilization;
    this.loopOverSamples = loopOver ? this.loopOverSamples + 1 : 0;
    if (over !== undefined) {
      if (share === 0 && onlyLoop && this.loopOverSamples < LOOP_SAMPLES_TO_START) return;
      if (share === 0) {
        this.since = Date.now();
        this.log.warn({ ...sampled, reason: over }, `overloaded: shedding requests (${over})`);
      }
      this.reason = over;
      this.setShare(Math.min(1, share + SHED_STEP_UP));
      return;
    }
    if (!under || share === 0) return; // in the band between resume level and limit: hold
    // Under every resume level: admit more. With utilization watched, aim at the middle of its band: the offered
    // load is about utilization / admitted share, so shed what lies beyond the target (shedding's own cost counts
    // in the utilization, which keeps the estimate on the safe side).
    let next = share - SHED_STEP_DOWN_MIN;
    if (maxElu > 0 && measures.eventLoopUtilization > 0) {
      const target = (maxElu * (1 + RESUME_RATIO)) / 2;
      next = Math.min(next, 1 - (target * (1 - share)) / measures.eventLoopUtilization);
    }
    next = Math.max(next, share - SHED_STEP_DOWN_MAX);
    if (next < SHED_MIN) {
      this.setShare(0);
      this.log.info(
        { ...sampled, shedMs: Date.now() - this.since, shed: this.shedCount },
        'overload over: admitting requests again',
      );
    } else this.setShare(next);
  }

  private setShare(share: number): void {
    this.share = share;
    if (share === 0) {
      if (this.slotTimer) clearInterval(this.slotTimer);
      this.slotTimer = undefined;
      this.shedding = false;
      this.carry = 0;
      return;
    }
    this.slot();
    if (!this.slotTimer) {
      this.slotTimer = setInterval(
        () => this.slot(),
        Math.max(1, Math.round(this.options.sampleIntervalMs / SLOTS_PER_SAMPLE)),
      );
      this.slotTimer.unref();
    }
  }

  /** One slot: shed it or admit it, so that over time the shed slots make up `share`. */
  private slot(): void {
    this.carry += this.share;
    if (this.carry >= 1 - 1e-9) {
      this.carry -= 1;
      this.shedding = true;
    } else this.shedding = false;
  }

  /** The `/status` check: YELLOW while overloaded, with the shed share and the measures. */
  check(): HealthCheckResult {
    const m = this.last;
    const measures = `event loop delay ${round(m.eventLoopDelayMs)} ms, utilization ${round(m.eventLoopUtilization)}, heap ${Math.round(m.heapUsedBytes / 1e6)} MB, rss ${Math.round(m.rssBytes / 1e6)} MB`;
    return this.share > 0
      ? {
          state: 'YELLOW',
          detail: `shedding ${Math.round(this.share * 100)}% since ${new Date(this.since).toISOString()}: ${this.reason} (${measures})`,
        }
      : { state: 'OK', detail: measures };
  }

  /** Register the shed counter and the overload gauges on a portal's registry. */
  register(registry: Registry): void {
    const { Counter, Gauge } = loadNow<typeof PromClient>('prom-client');
    const shed = (): number => this.shedCount;
    const share = (): number => this.share;
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
      help: 'Whether the process is over an overload limit and shedding gated work (1) or admitting all of it (0)',
      registers: [registry],
      collect() {
        this.set(share() > 0 ? 1 : 0);
      },
    });
    new Gauge({
      name: 'gatehouse_overload_shed_share',
      help: 'Share of time gated work is shed now, 0 to 1',
      registers: [registry],
      collect() {
        this.set(share());
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
