import type * as PromClient from 'prom-client';
import type { Counter, Histogram, Registry } from 'prom-client';
import { PortalError } from '../errors.js';
import type { GateConfig } from '../gates/types.js';
import { LIFECYCLE_STATES } from '../../lifecycle/index.js';
import { loadNow } from '../../load.js';

/** Options of the portal's Prometheus endpoint. Every field is optional. */
export interface MetricsOptions {
  /** Path of the Prometheus text endpoint. @defaultValue '/metrics' */
  path?: string;
  /** prom-client's default process metrics (CPU, memory, event loop lag, GC, handles). @defaultValue true */
  defaultMetrics?: boolean;
  /** Upper bounds of the request duration histogram, in seconds. @defaultValue [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] */
  buckets?: number[];
  /**
   * The gate in front of the metrics endpoint, e.g. `{ auth: 'bearer', scopes: ['metrics:read'] }` or an
   * `apiKey` for the scraper. Without one, `health.statusGate` gates it when set, else it is public.
   */
  gate?: GateConfig;
  /**
   * Most label sets per metric (the request histogram and the job histogram). Beyond it, new label sets are
   * counted under `route="<overflow>"` (`type="<overflow>"` for jobs), so no caller can grow `/metrics` without
   * bound. @defaultValue 1000
   */
  maxSeries?: number;
}

/** The label value of observations beyond `maxSeries`. */
export const OVERFLOW_LABEL = '<overflow>';

/** The route label of requests no route matched (nor an express route). */
export const UNMATCHED_ROUTE = '<unmatched>';

const DEFAULT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Jobs of a queue by state, as `TaskBuffer.stats()` returns them. */
export type JobCounts = Partial<Record<(typeof JOB_STATES)[number], number>>;

const JOB_STATES = ['pending', 'active', 'done', 'failed', 'dead'] as const;

/** The parts of a TaskBuffer the metrics read (structural: any buffer with these members fits). */
export interface TrackableQueue {
  readonly queue: string;
  stats(): JobCounts | Promise<JobCounts>;
  on(event: 'completed', listener: (job: { type: string; durationMs?: number }, result: unknown) => void): unknown;
  on(
    event: 'failed',
    listener: (job: { type: string; durationMs?: number }, error: Error, willRetry: boolean) => void,
  ): unknown;
}

/** Whether `value` looks like a TaskBuffer the portal can track. */
export function isTrackableQueue(value: unknown): value is TrackableQueue {
  const v = value as Partial<TrackableQueue> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.queue === 'string' &&
    typeof v.stats === 'function' &&
    typeof v.on === 'function'
  );
}

/** One label set of the request histogram: per-bucket counts (not cumulative), sum and count. */
class Series {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(seconds: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && seconds > bounds[i]!) i++;
    if (i < bounds.length) this.counts[i]!++;
    this.sum += seconds;
    this.count++;
  }
}

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

/**
 * `http_request_duration_seconds`, kept in plain typed arrays so a request costs a bucket search and three
 * additions (prom-client's own Histogram validates and hashes the labels on every observation); it is
 * registered on the portal's registry as a prom-client metric and rendered by it.
 */
class RequestDurations {
  readonly name = 'http_request_duration_seconds';
  readonly help = 'HTTP request duration in seconds, by method, route pattern and status code';
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series: Series[] = [];
  /** Beyond the cap: one series per status code, method and route `<overflow>`. */
  private readonly overflow = new Map<number, Series>();

  constructor(
    private readonly bounds: readonly number[],
    private readonly maxSeries: number,
  ) {}

  add(method: string, route: string, status: number): Series {
    if (this.series.length >= this.maxSeries) {
      let spill = this.overflow.get(status);
      if (spill === undefined) {
        spill = new Series({ method: OVERFLOW_LABEL, route: OVERFLOW_LABEL, status_code: String(status) }, this.bounds);
        this.overflow.set(status, spill);
      }
      return spill;
    }
    const series = new Series({ method, route, status_code: String(status) }, this.bounds);
    this.series.push(series);
    return series;
  }

  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: MetricValue[] }> {
    const values: MetricValue[] = [];
    for (const s of [...this.series, ...this.overflow.values()]) {
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += s.counts[i]!;
        values.push({
          labels: { ...s.labels, le: this.bounds[i]! },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        });
      }
      values.push({ labels: { ...s.labels, le: '+Inf' }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  reset(): void {
    for (const s of [...this.series, ...this.overflow.values()]) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}

/**
 * The per-route handle, made once at registration: observing a request is a status lookup in a small array
 * and a bucket search, no labels built or hashed per request.
 */
export class RouteStats {
  private readonly byStatus: Array<Series | undefined> = [];

  constructor(
    private readonly histogram: RequestDurations,
    private readonly method: string,
    private readonly route: string,
  ) {}

  /** Record one finished request. */
  observe(status: number, seconds: number): void {
    let series = this.byStatus[status];
    if (series === undefined) {
      series = this.histogram.add(this.method, this.route, status);
      this.byStatus[status] = series;
    }
    series.observe(seconds);
  }
}

/**
 * Process-wide on purpose: the registry of prom-client's default process metrics, shared by every portal of the
 * process (they describe the process, not a portal, and each collection installs observers that cannot be removed).
 */
let processRegistry: Registry | undefined;

/** prom-client's default process metrics, collected once per process on a registry of their own. */
function processMetrics({ Registry, collectDefaultMetrics }: typeof PromClient): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** What the metrics read from the portal at scrape time. */
export interface MetricsSources {
  inFlight(): number;
  lifecycleState(): string;
  sockets(): number | undefined;
  redisHealthy(): boolean | undefined;
}

/**
 * The portal's Prometheus metrics on its own prom-client registry (never the global one, so two portals in one
 * process keep apart): request durations per route pattern, requests in flight, sockets, queues, the lifecycle
 * state, Redis, and prom-client's default process metrics.
 */
export class PortalMetrics {
  /** The portal's registry, served at `/metrics` (before the process metrics); register the service's own metrics on it. */
  readonly registry: Registry;
  readonly path: string;
  /** The endpoint's own gate, when one was given. */
  readonly gate: GateConfig | undefined;
  private readonly maxSeries: number;
  private readonly duration: RequestDurations;
  private overflowRoute: RouteStats | undefined;
  /** Label sets of the job histogram seen so far, for its cap. */
  private readonly jobSeries = new Set<string>();
  private readonly socketConnections: Counter<never>;
  private readonly socketEvents: Counter<'event'>;
  private readonly jobDuration: Histogram<'queue' | 'type' | 'outcome'>;
  private readonly routes = new Map<string, RouteStats>();
  private readonly queues = new Set<TrackableQueue>();
  private readonly eventCounters = new Map<string, ReturnType<Counter<'event'>['labels']>>();
  private readonly defaults: Registry | undefined;

  constructor(options: MetricsOptions, sources: MetricsSources) {
    this.path = options.path ?? '/metrics';
    if (!this.path.startsWith('/'))
      throw new PortalError(`metrics.path: must start with "/", got ${this.path}`, { code: 'ERR_PORTAL_OPTIONS' });
    const buckets = options.buckets ?? DEFAULT_BUCKETS;
    if (!Array.isArray(buckets) || buckets.length === 0 || buckets.some((b) => typeof b !== 'number' || !(b > 0))) {
      throw new PortalError('metrics.buckets: expected a non-empty list of positive numbers (seconds)', {
        code: 'ERR_PORTAL_OPTIONS',
      });
    }
    // prom-client loads with the first portal that serves metrics.
    const prom = loadNow<typeof PromClient>('prom-client');
    const { Counter, Gauge, Histogram } = prom;
    this.registry = new prom.Registry();
    const registers = [this.registry];
    const maxSeries = options.maxSeries ?? 1000;
    if (!Number.isInteger(maxSeries) || maxSeries < 1)
      throw new PortalError(`metrics.maxSeries: expected a positive integer, got ${String(maxSeries)}`, {
        code: 'ERR_PORTAL_OPTIONS',
      });
    this.maxSeries = maxSeries;
    this.gate = options.gate;
    this.duration = new RequestDurations(
      [...buckets].sort((a, b) => a - b),
      maxSeries,
    );
    this.registry.registerMetric(this.duration as unknown as Parameters<Registry['registerMetric']>[0]);
    new Gauge({
      name: 'http_requests_in_flight',
      help: 'HTTP requests being served',
      registers,
      collect() {
        this.set(sources.inFlight());
      },
    });
    new Gauge({
      name: 'gatehouse_lifecycle_state',
      help: 'Lifecycle state: 1 for the current state, 0 for the others',
      labelNames: ['state'],
      registers,
      collect() {
        const current = sources.lifecycleState();
        for (const state of LIFECYCLE_STATES) this.set({ state }, state === current ? 1 : 0);
      },
    });
    if (sources.sockets() !== undefined) {
      new Gauge({
        name: 'gatehouse_sockets',
        help: 'Socket.IO sockets connected to this instance',
        registers,
        collect() {
          this.set(sources.sockets() ?? 0);
        },
      });
    }
    this.socketConnections = new Counter({
      name: 'gatehouse_socket_connections_total',
      help: 'Socket.IO connections accepted',
      registers,
    });
    this.socketEvents = new Counter({
      name: 'gatehouse_socket_events_total',
      help: 'Socket.IO events received, by registered event name (others: <other>)',
      labelNames: ['event'],
      registers,
    });
    if (sources.redisHealthy() !== undefined) {
      new Gauge({
        name: 'gatehouse_redis_up',
        help: 'Whether the Redis connections are healthy (1) or not (0)',
        registers,
        collect() {
          this.set(sources.redisHealthy() ? 1 : 0);
        },
      });
    }
    const queues = this.queues;
    new Gauge({
      name: 'gatehouse_queue_jobs',
      help: 'Jobs of each tracked task buffer, by state',
      labelNames: ['queue', 'state'],
      registers,
      async collect() {
        this.reset();
        for (const q of queues) {
          try {
            const stats = await q.stats();
            for (const state of JOB_STATES) this.set({ queue: q.queue, state }, stats[state] ?? 0);
          } catch {
            // a stopped buffer has no stats to show
          }
        }
      },
    });
    this.jobDuration = new Histogram({
      name: 'gatehouse_job_duration_seconds',
      help: 'Task handler run time in seconds, by queue, task type and outcome',
      labelNames: ['queue', 'type', 'outcome'],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
      registers,
    });
    this.defaults = options.defaultMetrics === false ? undefined : processMetrics(prom);
  }

  /** The handle of one route (`method` + the route pattern), made once and shared. */
  route(method: string, route: string): RouteStats {
    const key = `${method} ${route}`;
    let stats = this.routes.get(key);
    if (!stats) {
      // Handles beyond the cap share one (its series spill over anyway), kept out of the count.
      if (this.routes.size >= this.maxSeries)
        return (this.overflowRoute ??= new RouteStats(this.duration, OVERFLOW_LABEL, OVERFLOW_LABEL));
      this.routes.set(key, (stats = new RouteStats(this.duration, method, route)));
    }
    return stats;
  }

  /** Watch a task buffer: its jobs by state at each scrape, and each job's run time. Tracking twice is a no-op. */
  track(queue: TrackableQueue): void {
    if (this.queues.has(queue)) return;
    this.queues.add(queue);
    const histogram = this.jobDuration;
    const seen = this.jobSeries;
    const max = this.maxSeries;
    const record = (type: string, outcome: string, durationMs: number | undefined): void => {
      if (durationMs === undefined) return;
      const key = `${queue.queue}\u0000${type}\u0000${outcome}`;
      if (!seen.has(key)) {
        if (seen.size >= max) type = OVERFLOW_LABEL;
        else seen.add(key);
      }
      histogram.observe({ queue: queue.queue, type, outcome }, durationMs / 1000);
    };
    queue.on('completed', (job) => record(job.type, 'completed', job.durationMs));
    queue.on('failed', (job, _err, willRetry) => record(job.type, willRetry ? 'retried' : 'dead', job.durationMs));
  }

  /** A socket connection was accepted. */
  socketConnected(): void {
    this.socketConnections.inc();
  }

  /** A socket event arrived; `name` is a registered event, or undefined for any other. */
  socketEvent(name: string | undefined): void {
    const key = name ?? '<other>';
    let counter = this.eventCounters.get(key);
    if (!counter) this.eventCounters.set(key, (counter = this.socketEvents.labels(key)));
    counter.inc();
  }

  /** The Prometheus text of every metric in the registry, then the process metrics. */
  async render(): Promise<string> {
    const own = await this.registry.metrics();
    return this.defaults ? `${own}\n${await this.defaults.metrics()}` : own;
  }
}
