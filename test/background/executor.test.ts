import { Writable } from 'node:stream';
import { threadId } from 'node:worker_threads';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BackgroundError, Executor, type ExecutorOptions } from '../../src/background/index.js';
import { expectThrown } from '../helpers.js';

const WORKER = new URL('./fixtures/worker.mjs', import.meta.url);

function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The rejection of `promise` (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<BackgroundError> {
  const err = await rejection(promise);
  expect(err).toBeInstanceOf(BackgroundError);
  expect((err as BackgroundError).code).toBe(code);
  return err as BackgroundError;
}

describe('Executor', () => {
  const executors: Executor[] = [];
  const make = (options: ExecutorOptions): Executor => {
    const e = new Executor(options);
    executors.push(e);
    return e;
  };

  afterEach(async () => {
    await Promise.all(executors.splice(0).map((e) => e.close({ timeoutMs: 0 })));
  });

  describe('async work', () => {
    it('never runs more than `concurrency` jobs at once, and reaches the bound', async () => {
      const ex = make({ concurrency: 3 });
      let running = 0;
      let max = 0;
      const results = await Promise.all(
        Array.from({ length: 24 }, (_, i) =>
          ex.submit(`job-${i}`, async () => {
            running++;
            max = Math.max(max, running);
            expect(ex.stats.running).toBeLessThanOrEqual(3);
            await sleep(2 + (i % 5));
            running--;
            return i * 2;
          }),
        ),
      );
      expect(max).toBe(3);
      expect(results).toEqual(Array.from({ length: 24 }, (_, i) => i * 2));
      expect(ex.stats).toEqual({ running: 0, queued: 0, completed: 24, failed: 0, cancelled: 0 });
    });

    it('starts queued jobs in submission order', async () => {
      const ex = make({ concurrency: 2 });
      const started: number[] = [];
      const gate = deferred();
      const jobs = Array.from({ length: 8 }, (_, i) =>
        ex.submit(`o${i}`, async () => {
          started.push(i);
          await gate.promise;
        }),
      );
      await sleep(5);
      expect(started).toEqual([0, 1]);
      expect(ex.stats.queued).toBe(6);
      gate.resolve();
      await Promise.all(jobs);
      expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    });

    it('hands the context to fn and the result back', async () => {
      const ex = make({});
      expect(ex.concurrency).toBe(8);
      const seen = await ex.submit('ctx', (c) => ({ name: c.name, payload: c.payload, aborted: c.signal.aborted }), {
        payload: { id: 7 },
      });
      expect(seen).toEqual({ name: 'ctx', payload: { id: 7 }, aborted: false });
    });

    it('reports failures to onError(name, payload, error, stack) and rejects the job with the same error', async () => {
      const onError = vi.fn();
      const ex = make({ concurrency: 2, onError });
      const boom = new Error('boom');
      const err = await rejection(
        ex.submit(
          'charge',
          () => {
            throw boom;
          },
          { payload: { order: 42 } },
        ),
      );
      expect(err).toBe(boom);
      expect(onError).toHaveBeenCalledTimes(1);
      expect(onError).toHaveBeenCalledWith('charge', { order: 42 }, boom, boom.stack);
      await rejection(ex.submit('str', () => Promise.reject('plain')));
      expect(onError).toHaveBeenLastCalledWith('str', undefined, 'plain', 'plain');
      expect(ex.stats.failed).toBe(2);
    });

    it('map() keeps input order, names jobs name[i], and reports the failing item', async () => {
      const onError = vi.fn();
      const ex = make({ concurrency: 2, onError });
      const out = await ex.map([3, 1, 2], async (n) => {
        await sleep(n * 3);
        return n * 10;
      });
      expect(out).toEqual([30, 10, 20]);
      const err = await rejection(
        ex.map(
          ['a', 'bad', 'c'],
          (s, ctx) => {
            if (s === 'bad') throw new Error(`no ${ctx.name}`);
            return s;
          },
          { name: 'letters' },
        ),
      );
      expect((err as Error).message).toBe('no letters[1]');
      expect(onError).toHaveBeenCalledWith('letters[1]', 'bad', err, (err as Error).stack);
    });

    it('logs failures without onError, and an ignored failing job is not an unhandled rejection', async () => {
      const lines: Array<Record<string, unknown>> = [];
      const stream = new Writable({
        write(chunk: Buffer, _enc, done): void {
          for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
          done();
        },
      });
      const unhandled: unknown[] = [];
      const listener = (reason: unknown): void => void unhandled.push(reason);
      process.on('unhandledRejection', listener);
      try {
        const ex = make({ logger: pino({ level: 'error' }, stream) });
        void ex.submit('ignored', () => {
          throw new Error('nobody awaits me');
        });
        await ex.drain();
        await sleep(20);
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatchObject({
          level: 50,
          job: 'ignored',
          msg: 'background work failed',
          err: { message: 'nobody awaits me' },
        });
        expect(unhandled).toEqual([]);
      } finally {
        process.off('unhandledRejection', listener);
      }
    });

    it('aborting a queued job removes it before it starts', async () => {
      const onError = vi.fn();
      const ex = make({ concurrency: 1, onError });
      const gate = deferred();
      const first = ex.submit('first', () => gate.promise);
      const ran = vi.fn();
      const ac = new AbortController();
      const second = ex.submit('second', ran, { signal: ac.signal });
      const third = ex.submit('third', () => 'third');
      expect(ex.stats.queued).toBe(2);
      ac.abort(new Error('user gave up'));
      const err = await expectCode(second, 'ERR_EXECUTOR_ABORTED');
      expect((err.cause as Error).message).toBe('user gave up');
      expect(ex.stats.queued).toBe(1);
      gate.resolve();
      await first;
      expect(await third).toBe('third');
      expect(ran).not.toHaveBeenCalled();
      expect(onError).not.toHaveBeenCalled();
      // An already aborted signal refuses the job at once.
      await expectCode(ex.submit('late', ran, { signal: AbortSignal.abort() }), 'ERR_EXECUTOR_ABORTED');
      expect(ran).not.toHaveBeenCalled();
      expect(ex.stats.cancelled).toBe(2);
    });

    it('aborting a running job rejects it at once and aborts its signal; its slot frees when fn ends', async () => {
      const onError = vi.fn();
      const ex = make({ concurrency: 1, onError });
      const ac = new AbortController();
      let sawAbort = false;
      const running = ex.submit(
        'long',
        (c) =>
          new Promise((_, reject) => {
            c.signal.addEventListener('abort', () => {
              sawAbort = true;
              setTimeout(() => reject(new Error('stopped')), 20);
            });
          }),
        { signal: ac.signal },
      );
      const next = vi.fn(() => 'next');
      const after = ex.submit('after', next);
      await sleep(5);
      ac.abort();
      await expectCode(running, 'ERR_EXECUTOR_ABORTED');
      expect(sawAbort).toBe(true);
      expect(next).not.toHaveBeenCalled(); // the aborted fn still holds its slot for ~20 ms
      expect(await after).toBe('next');
      expect(onError).not.toHaveBeenCalled();
    });

    it('drain() waits for queued, running and newly submitted jobs', async () => {
      const ex = make({ concurrency: 2 });
      const done: string[] = [];
      void ex.submit('a', async () => {
        await sleep(10);
        done.push('a');
        void ex.submit('c', async () => {
          await sleep(10);
          done.push('c');
        });
      });
      void ex.submit('b', async () => {
        await sleep(5);
        done.push('b');
      });
      await ex.drain();
      expect(done.sort()).toEqual(['a', 'b', 'c']);
      await ex.drain(); // idle: resolves at once
    });

    it('close() lets work finish within the timeout, then refuses new jobs', async () => {
      const ex = new Executor({ concurrency: 1 });
      const a = ex.submit('a', async () => {
        await sleep(20);
        return 'a';
      });
      const b = ex.submit('b', () => 'b');
      const closing = ex.close({ timeoutMs: 2000 });
      expect(ex.close()).toBe(closing);
      await expectCode(
        ex.submit('c', () => 'c'),
        'ERR_EXECUTOR_CLOSED',
      );
      await closing;
      expect(await a).toBe('a');
      expect(await b).toBe('b');
    });

    it('close({ timeoutMs }) cancels what is left when the time is up', async () => {
      const ex = new Executor({ concurrency: 1 });
      let signal: AbortSignal | undefined;
      const stuck = ex.submit('stuck', (c) => {
        signal = c.signal;
        return new Promise(() => undefined); // ignores its signal, never ends
      });
      const queuedFn = vi.fn();
      const queued = ex.submit('queued', queuedFn);
      await sleep(5);
      const t0 = Date.now();
      await ex.close({ timeoutMs: 100 });
      const took = Date.now() - t0;
      expect(took).toBeGreaterThanOrEqual(95);
      expect(took).toBeLessThan(1000);
      await expectCode(stuck, 'ERR_EXECUTOR_CLOSED');
      await expectCode(queued, 'ERR_EXECUTOR_CLOSED');
      expect(signal?.aborted).toBe(true);
      expect(queuedFn).not.toHaveBeenCalled();
      expect(ex.stats.cancelled).toBe(2);
    });
  });

  describe('worker threads (piscina)', () => {
    it("runs the file's default export in a worker thread", async () => {
      const ex = make({ threads: 2, filename: WORKER });
      expect(ex.threaded).toBe(true);
      const out = await ex.submit<{ value: number; threadId: number }>('fib', { op: 'fib', n: 25 });
      expect(out.value).toBe(75025);
      expect(out.threadId).not.toBe(threadId);
      expect(
        await ex.map([
          { op: 'fib', n: 10 },
          { op: 'fib', n: 12 },
        ]),
      ).toMatchObject([{ value: 55 }, { value: 144 }]);
    });

    it('never runs more than `threads` jobs at once', async () => {
      const ex = make({ threads: 2, filename: WORKER.href });
      const spans = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          ex.submit<{ start: number; end: number; threadId: number }>(`s${i}`, { op: 'sleep', ms: 60 }),
        ),
      );
      // Sweep over start/end events (an end at the same ms as a start comes first): the peak is the concurrency.
      const events = spans
        .flatMap(
          (s) =>
            [
              [s.start, 1],
              [s.end, -1],
            ] as const,
        )
        .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      let now = 0;
      let maxOverlap = 0;
      for (const [, delta] of events) maxOverlap = Math.max(maxOverlap, (now += delta));
      expect(maxOverlap).toBe(2);
      expect(new Set(spans.map((s) => s.threadId)).size).toBe(2);
    });

    it('reports a worker failure to onError(name, payload, error, stack)', async () => {
      const onError = vi.fn();
      const ex = make({ threads: 1, filename: WORKER, onError });
      const err = await rejection(ex.submit('bad', { op: 'fail', n: 9 }));
      expect((err as Error).message).toBe('bad input 9');
      expect(onError).toHaveBeenCalledTimes(1);
      const [name, payload, error, stack] = onError.mock.calls[0]!;
      expect([name, payload, error]).toEqual(['bad', { op: 'fail', n: 9 }, err]);
      expect(String(stack)).toContain('bad input 9');
    });

    it('aborting a running CPU-bound job terminates its thread; the pool keeps working', async () => {
      const onError = vi.fn();
      const ex = make({ threads: 1, filename: WORKER, onError });
      const ac = new AbortController();
      const spinning = ex.submit('spin', { op: 'spin' }, { signal: ac.signal });
      const queued = ex.submit('queued', { op: 'fib', n: 5 }, { signal: ac.signal });
      await sleep(100);
      ac.abort();
      await expectCode(spinning, 'ERR_EXECUTOR_ABORTED');
      await expectCode(queued, 'ERR_EXECUTOR_ABORTED');
      expect(await ex.submit('again', { op: 'fib', n: 6 })).toMatchObject({ value: 8 });
      expect(onError).not.toHaveBeenCalled();
    });

    it('a payload that cannot be cloned to a worker fails that job only, through onError', async () => {
      const onError = vi.fn();
      const ex = make({ threads: 1, filename: WORKER, onError });
      const payload = { op: 'fib', n: 3, callback: (): number => 1 };
      const err = await rejection(ex.submit('unclonable', payload));
      expect((err as Error).name).toBe('DataCloneError');
      expect(onError).toHaveBeenCalledWith('unclonable', payload, err, expect.stringContaining('could not be cloned'));
      expect(ex.stats).toMatchObject({ running: 0, queued: 0, failed: 1 });
      await ex.drain();
      expect(await ex.submit('fine', { op: 'fib', n: 7 })).toMatchObject({ value: 13 });
    });

    it('close({ timeoutMs }) cancels a job that never ends and stops the threads', async () => {
      const ex = new Executor({ threads: 1, filename: WORKER });
      const spinning = ex.submit('spin', { op: 'spin' });
      await sleep(50);
      const t0 = Date.now();
      await ex.close({ timeoutMs: 100 });
      expect(Date.now() - t0).toBeLessThan(2000);
      await expectCode(spinning, 'ERR_EXECUTOR_CLOSED');
      await expectCode(ex.submit('late', { op: 'fib', n: 1 }), 'ERR_EXECUTOR_CLOSED');
    });
  });

  describe('options', () => {
    it('rejects bad options with ERR_BACKGROUND_OPTIONS naming the option', async () => {
      const cases: Array<[ExecutorOptions, string]> = [
        [{ concurrency: 0 }, 'concurrency'],
        [{ concurrency: 2.5 }, 'concurrency'],
        [{ concurrency: 10_001 }, 'concurrency'],
        [{ threads: 0, filename: WORKER }, 'threads'],
        [{ threads: 2 }, 'filename'],
        [{ filename: WORKER }, 'threads'],
        [{ threads: 1, filename: '/nonexistent/worker.mjs' }, 'filename'],
        [{ threads: 1, filename: new URL('https://example.com/w.mjs') }, 'filename'],
        [{ threads: 1, concurrency: 2, filename: WORKER }, 'concurrency'],
        [{ onError: 'log' as unknown as () => void }, 'onError'],
      ];
      for (const [options, name] of cases) {
        const err = expectThrown(() => new Executor(options), BackgroundError);
        expect(err.code).toBe('ERR_BACKGROUND_OPTIONS');
        expect(err.message).toContain(`option "${name}"`);
      }
      const ex = make({});
      expect(expectThrown(() => ex.close({ timeoutMs: -1 }), BackgroundError).message).toContain('option "timeoutMs"');
      expect(
        (
          await expectCode(
            ex.submit('', () => 1),
            'ERR_BACKGROUND_OPTIONS',
          )
        ).message,
      ).toContain('option "name"');
      expect((await expectCode(ex.submit('x', 42), 'ERR_BACKGROUND_OPTIONS')).message).toContain('option "work"');
      expect((await expectCode(ex.map([1], undefined), 'ERR_BACKGROUND_OPTIONS')).message).toContain('option "fn"');
      expect(ex.stats).toEqual({ running: 0, queued: 0, completed: 0, failed: 0, cancelled: 0 });
    });
  });
});
