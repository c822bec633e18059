import type { ServerResponse } from 'node:http';
import type { Logger } from '../logger.js';

/** Options of {@link LiveFeed}. */
export interface LiveFeedOptions {
  /** Builds what every dashboard gets (projects, instances, audit), serialised. */
  snapshot: () => Promise<string>;
  /** Changes closer together than this are sent as one snapshot, in ms. */
  debounceMs: number;
  /** Delay for changes that can wait (instance heartbeats: a big fleet beats many times a second), in ms. */
  slowMs: number;
  /** A snapshot is sent at least this often (instances turn stale with time alone), in ms. */
  refreshMs: number;
  log: Logger;
}

/**
 * Server-sent events for the dashboard: every change (a status, a token, an instance heartbeat, an audit entry)
 * sends each open stream one `snapshot` event, coalesced to one per `debounceMs`.
 */
export class LiveFeed {
  private readonly streams = new Set<ServerResponse>();
  private readonly options: LiveFeedOptions;
  private readonly refresh: NodeJS.Timeout;
  private timer: NodeJS.Timeout | undefined;
  private timerDue = 0;
  private sending = false;
  private again = false;
  private closed = false;

  constructor(options: LiveFeedOptions) {
    this.options = options;
    this.refresh = setInterval(() => this.streams.size > 0 && this.changed(), options.refreshMs);
    this.refresh.unref();
  }

  /** Number of open streams. */
  get size(): number {
    return this.streams.size;
  }

  /** Start an event stream on `res` (headers written here) and send the first snapshot. */
  open(res: ServerResponse): void {
    if (this.closed) {
      res.writeHead(503).end();
      return;
    }
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    this.streams.add(res);
    res.once('close', () => this.streams.delete(res));
    void this.options.snapshot().then(
      (data) => this.write(res, data),
      (err: unknown) => this.options.log.warn({ err }, 'control plane: the first dashboard snapshot failed'),
    );
  }

  /** Something changed: send a snapshot soon (`urgent`: within `debounceMs`, else within `slowMs`). */
  changed(urgent = true): void {
    if (this.closed || this.streams.size === 0) return;
    const delay = urgent ? this.options.debounceMs : this.options.slowMs;
    const due = Date.now() + delay;
    if (this.timer) {
      if (this.timerDue <= due) return;
      clearTimeout(this.timer);
    }
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delay);
    this.timer.unref();
  }

  private async flush(): Promise<void> {
    if (this.sending) {
      this.again = true;
      return;
    }
    this.sending = true;
    try {
      const data = await this.options.snapshot();
      for (const res of this.streams) this.write(res, data);
    } catch (err) {
      this.options.log.warn({ err }, 'control plane: a dashboard snapshot failed');
    } finally {
      this.sending = false;
      if (this.again) {
        this.again = false;
        this.changed();
      }
    }
  }

  private write(res: ServerResponse, data: string): void {
    if (!res.writableEnded && !res.destroyed) res.write(`event: snapshot\ndata: ${data}\n\n`);
  }

  /** End every stream and stop the timers. Safe to call twice. */
  close(): void {
    this.closed = true;
    clearInterval(this.refresh);
    clearTimeout(this.timer);
    for (const res of this.streams) res.end();
    this.streams.clear();
  }
}
