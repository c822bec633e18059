// Open-loop load: requests leave at a fixed rate whatever the server answers, the way independent clients
// arrive, and each latency counts from the moment the request was due (so a queue in front of the server, the
// client's own included, shows in the numbers instead of slowing the offered load). Shared by
// test/servers/overload.test.ts and bench/overload.ts.
import { Agent, request } from 'node:http';

/** One open-loop run. */
export interface OpenLoopOptions {
  port: number;
  path: string;
  /** Requests per second offered. */
  rate: number;
  durationMs: number;
  /** Connections the client may open (requests beyond them wait in the client, counted in their latency). @defaultValue 64 */
  maxSockets?: number;
  /** Give up waiting for the last answers after this long once the load stops, in ms. @defaultValue 20000 */
  settleMs?: number;
  /** Stop sending when this resolves (before `durationMs` if that is sooner). */
  until?: Promise<unknown>;
}

/** What came back. */
export interface OpenLoopResult {
  sent: number;
  /** 2xx answers. */
  ok: number;
  /** 503 `ERR_OVERLOADED` answers. */
  shed: number;
  /** Anything else: other statuses, connection errors, no answer in time. */
  failed: number;
  /** Latencies of the 2xx answers, in ms, sorted. */
  okLatencies: number[];
  /** Wall time from the first request to the last answer, in ms. */
  elapsedMs: number;
  /** Statuses (or error codes) of the failures, counted. */
  failures: Record<string, number>;
}

/** The q-quantile (0..1) of sorted values; 0 for none. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Send `GET path` at `rate` per second for `durationMs` and collect the outcome. */
export async function openLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 64 });
  const result: OpenLoopResult = {
    sent: 0,
    ok: 0,
    shed: 0,
    failed: 0,
    okLatencies: [],
    elapsedMs: 0,
    failures: {},
  };
  const fail = (why: string): void => {
    result.failed++;
    result.failures[why] = (result.failures[why] ?? 0) + 1;
  };
  let outstanding = 0;
  let allDone: (() => void) | undefined;
  const one = (due: number): void => {
    outstanding++;
    const finish = (): void => {
      if (--outstanding === 0) allDone?.();
    };
    const req = request({ host: '127.0.0.1', port: options.port, path: options.path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          result.ok++;
          result.okLatencies.push(performance.now() - due);
        } else if (status === 503 && body.includes('ERR_OVERLOADED')) result.shed++;
        else fail(String(status));
        finish();
      });
      res.on('error', (err: NodeJS.ErrnoException) => {
        fail(err.code ?? 'response error');
        finish();
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      fail(err.code ?? 'request error');
      finish();
    });
    req.end();
  };
  const start = performance.now();
  const interval = 1000 / options.rate;
  let stopAt = Infinity;
  void options.until?.then(() => (stopAt = performance.now()));
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      const until = Math.min(start + options.durationMs, stopAt);
      const end = Math.min(now, until);
      // Every request due by now leaves now, each stamped with the moment it was due.
      while (start + result.sent * interval <= end) {
        one(start + result.sent * interval);
        result.sent++;
      }
      if (now >= until) {
        clearInterval(timer);
        resolve();
      }
    };
    const timer = setInterval(tick, 2);
  });
  if (outstanding > 0) {
    const settled = new Promise<void>((resolve) => (allDone = resolve));
    const late = await Promise.race([
      settled.then(() => false),
      new Promise<boolean>((r) => setTimeout(() => r(true), options.settleMs ?? 20_000)),
    ]);
    if (late) {
      result.failed += outstanding;
      result.failures['no answer'] = outstanding;
    }
  }
  result.elapsedMs = performance.now() - start;
  agent.destroy();
  result.okLatencies.sort((a, b) => a - b);
  return result;
}

/** Closed-loop capacity: `concurrency` clients each sending the next request when the last one answered. */
export async function capacity(port: number, path: string, durationMs: number, concurrency = 4): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  let done = 0;
  const end = performance.now() + durationMs;
  const client = async (): Promise<void> => {
    while (performance.now() < end) {
      await new Promise<void>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) done++;
            resolve();
          });
        });
        req.on('error', reject);
        req.end();
      });
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, client));
  agent.destroy();
  return (done * 1000) / (performance.now() - started);
}

/** Polls `path` every `everyMs` on a connection of its own; returns the worst latency (ms) and any failure. */
export function pollWorst(
  port: number,
  path: string,
  everyMs = 100,
): { stop(): Promise<{ worstMs: number; count: number; failures: string[] }> } {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let worst = 0;
  let count = 0;
  let stopped = false;
  const failures: string[] = [];
  const loop = (async () => {
    while (!stopped) {
      const t0 = performance.now();
      const status = await new Promise<number | string>((resolve) => {
        const req = request({ host: '127.0.0.1', port, path, agent, timeout: 5000 }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
        req.end();
      });
      const ms = performance.now() - t0;
      count++;
      if (ms > worst) worst = ms;
      if (status !== 200) failures.push(String(status));
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      agent.destroy();
      return { worstMs: worst, count, failures };
    },
  };
}
