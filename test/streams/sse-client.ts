import http from 'node:http';

/** One server-sent event as a reader sees it. */
export interface SseEvent {
  id: string | undefined;
  event: string;
  data: string;
}

/**
 * A minimal server-sent events reader over node:http (a real client on a real socket): it parses the stream as
 * the WHATWG spec says (fields, blank-line dispatch, comments) and keeps every event.
 */
export class SseReader {
  readonly events: SseEvent[] = [];
  comments = 0;
  retry: number | undefined;
  ended = false;
  private buffer = '';
  private waiters: Array<() => void> = [];

  private constructor(
    readonly status: number,
    readonly headers: http.IncomingHttpHeaders,
    readonly body: string,
    private readonly res: http.IncomingMessage | undefined,
    private readonly req: http.ClientRequest,
  ) {}

  /** Open `url`; resolves once the response headers arrived (a non-200 answer is read whole into `body`). */
  static open(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
    return new Promise((resolve, reject) => {
      const req = http.get(url, { headers: { accept: 'text/event-stream', ...headers }, agent: false }, (res) => {
        if (res.statusCode !== 200) {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve(new SseReader(res.statusCode ?? 0, res.headers, body, undefined, req)));
          return;
        }
        const reader = new SseReader(200, res.headers, '', res, req);
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => reader.feed(chunk));
        const done = (): void => {
          reader.ended = true;
          reader.wake();
        };
        res.on('end', done);
        res.on('close', done);
        resolve(reader);
      });
      req.on('error', reject);
    });
  }

  /** The parsed JSON of a problem body. */
  problem(): { code?: string; status?: number } {
    return JSON.parse(this.body) as { code?: string; status?: number };
  }

  /** The events named `event`, their data parsed as JSON. */
  data<T = unknown>(event: string): T[] {
    return this.events.filter((e) => e.event === event).map((e) => JSON.parse(e.data) as T);
  }

  /** Resolve once `check()` holds (re-checked on every event and at the end), or reject after `timeoutMs`. */
  async until(check: (r: SseReader) => boolean, timeoutMs = 3000, what = 'events'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check(this)) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.events)} ended=${this.ended}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The id of the last event received. */
  get lastId(): string | undefined {
    for (let i = this.events.length - 1; i >= 0; i--) if (this.events[i]!.id !== undefined) return this.events[i]!.id;
    return undefined;
  }

  /** Stop reading and drop the connection. */
  close(): void {
    this.res?.destroy();
    this.req.destroy();
  }

  /** Pause reading (the socket fills up: a slow reader). */
  pause(): void {
    this.res?.pause();
  }

  /** Read again after `pause()`. */
  resume(): void {
    this.res?.resume();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private feed(chunk: string): void {
    this.buffer += chunk;
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) !== -1) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let id: string | undefined;
      let event = 'message';
      const data: string[] = [];
      let fields = 0;
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) {
          this.comments++;
          continue;
        }
        const colon = line.indexOf(':');
        const name = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
        fields++;
        if (name === 'id') id = value;
        else if (name === 'event') event = value;
        else if (name === 'data') data.push(value);
        else if (name === 'retry') this.retry = Number(value);
      }
      if (fields > 0 && data.length > 0) this.events.push({ id, event, data: data.join('\n') });
    }
    this.wake();
  }
}
