import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  BackgroundError,
  MAX_TIMER_MS,
  runAt,
  runEvery,
  runOnce,
  type ScheduleHandle,
  type ScheduleKind,
} from '../../src/background/index.js';
import { expectThrown } from '../helpers.js';

/** A real pino logger whose JSON lines land in `lines`. */
function captureLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done): void {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'error' }, stream), lines };
}

/** A promise and its resolver, for calls the test finishes by hand. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('runEvery / runAt / runOnce', () => {
  const handles: ScheduleHandle[] = [];
  const track = (h: ScheduleHandle): ScheduleHandle => (handles.push(h), h);

  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2026-06-01T00:00:00Z') });
  });

  afterEach(async () => {
    // A call still in progress may be waiting on a fake timer: keep the clock moving until every stop resolves.
    const stops = Promise.all(handles.splice(0).map((h) => h.stop()));
    if (vi.isFakeTimers()) await vi.advanceTimersByTimeAsync(10_000);
    await stops;
    vi.useRealTimers();
  });

  describe('runEvery', () => {
    it('calls fn once per interval with its name, kind and run number', async () => {
      const seen: Array<[string, ScheduleKind, number]> = [];
      const h = track(runEvery({ name: 'sync', intervalMs: 100, fn: (c) => void seen.push([c.name, c.kind, c.run]) }));
      expect(h.name).toBe('sync');
      expect(h.kind).toBe('every');
      await vi.advanceTimersByTimeAsync(99);
      expect(seen).toEqual([]);
      await vi.advanceTimersByTimeAsync(251);
      expect(seen).toEqual([
        ['sync', 'every', 1],
        ['sync', 'every', 2],
        ['sync', 'every', 3],
      ]);
      expect(h.runs).toBe(3);
      expect(h.skipped).toBe(0);
    });

    it('runs right away too with immediate: true', async () => {
      const fn = vi.fn();
      track(runEvery({ name: 'now', intervalMs: 1000, immediate: true, fn }));
      expect(fn).not.toHaveBeenCalled(); // not inside runEvery() itself
      await vi.advanceTimersByTimeAsync(0);
      expect(fn).toHaveBeenCalledTimes(1);
      await vi.advanceTimersByTimeAsync(1000);
      expect(fn).toHaveBeenCalledTimes(2);
    });

    it('never overlaps a call with the previous one: slots during a call are skipped', async () => {
      let running = 0;
      let maxRunning = 0;
      const starts: number[] = [];
      const t0 = Date.now();
      const h = track(
        runEvery({
          name: 'slow',
          intervalMs: 100,
          fn: async () => {
            running++;
            maxRunning = Math.max(maxRunning, running);
            starts.push(Date.now() - t0);
            await new Promise((r) => setTimeout(r, 250));
            running--;
          },
        }),
      );
      await vi.advanceTimersByTimeAsync(1000);
      expect(maxRunning).toBe(1);
      // Slots at 100..1000: a call starts at 100 and runs to 350, so 200 and 300 are skipped; 400 starts again.
      expect(starts).toEqual([100, 400, 700, 1000]);
      expect(h.runs).toBe(4);
      expect(h.skipped).toBe(6);
    });

    it('reports throws and rejections to onError(name, kind, error, stack) and keeps going', async () => {
      const calls: unknown[][] = [];
      const boom = new Error('boom');
      let n = 0;
      track(
        runEvery({
          name: 'flaky',
          intervalMs: 10,
          fn: async () => {
            n++;
            if (n === 1) throw boom;
            if (n === 2) return Promise.reject(new TypeError('rejected'));
            if (n === 3) throw 'a string';
          },
          onError: (...args) => void calls.push(args),
        }),
      );
      await vi.advanceTimersByTimeAsync(40);
      expect(n).toBe(4);
      expect(calls).toHaveLength(3);
      expect(calls[0]).toEqual(['flaky', 'every', boom, boom.stack]);
      expect(calls[1]![0]).toBe('flaky');
      expect(calls[1]![2]).toBeInstanceOf(TypeError);
      expect(String(calls[1]![3])).toMatch(/^TypeError: rejected\n\s+at /);
      expect(calls[2]).toEqual(['flaky', 'every', 'a string', 'a string']);
    });

    it('logs failures through the logger without onError, and never leaves an unhandled rejection', async () => {
      const unhandled: unknown[] = [];
      const listener = (reason: unknown): void => void unhandled.push(reason);
      process.on('unhandledRejection', listener);
      try {
        const { logger, lines } = captureLogger();
        track(runEvery({ name: 'nohook', intervalMs: 10, logger, fn: () => Promise.reject(new Error('lost?')) }));
        track(
          runOnce({
            name: 'badhook',
            logger,
            fn: () => {
              throw new Error('original');
            },
            onError: () => {
              throw new Error('hook broke');
            },
          }),
        );
        await vi.advanceTimersByTimeAsync(25);
        vi.useRealTimers();
        await new Promise((r) => setTimeout(r, 20)); // let any unhandled rejection surface
        const failed = lines.filter((l) => l.msg === 'background work failed');
        expect(failed).toHaveLength(2);
        expect(failed[0]).toMatchObject({
          level: 50,
          schedule: 'nohook',
          kind: 'every',
          run: 1,
          err: { message: 'lost?' },
        });
        const hookLine = lines.find((l) => l.msg === 'background onError hook threw');
        expect(hookLine).toMatchObject({ schedule: 'badhook', kind: 'once', err: { message: 'hook broke' } });
        expect(String(hookLine!.original)).toContain('Error: original');
        expect(unhandled).toEqual([]);
      } finally {
        process.off('unhandledRejection', listener);
      }
    });

    it('stop() resolves only after the running call finishes, aborts its signal, and leaves no timer', async () => {
      const gate = deferred();
      let signal: AbortSignal | undefined;
      const fn = vi.fn(async (c: { signal: AbortSignal }) => {
        signal = c.signal;
        await gate.promise;
      });
      const h = runEvery({ name: 'stopper', intervalMs: 50, fn });
      await vi.advanceTimersByTimeAsync(50);
      expect(h.running).toBe(true);
      let stopped = false;
      const first = h.stop().then(() => (stopped = true));
      const second = h.stop();
      expect(second).toBe(h.stop());
      await vi.advanceTimersByTimeAsync(500);
      expect(stopped).toBe(false);
      expect(signal?.aborted).toBe(true);
      expect(h.active).toBe(false);
      gate.resolve();
      await first;
      await second;
      expect(stopped).toBe(true);
      expect(h.running).toBe(false);
      expect(vi.getTimerCount()).toBe(0);
      await vi.advanceTimersByTimeAsync(1000);
      expect(fn).toHaveBeenCalledTimes(1);
    });

    it('stop() on an idle schedule resolves at once and cancels every later slot', async () => {
      const fn = vi.fn();
      const h = runEvery({ name: 'idle', intervalMs: 100, fn });
      await vi.advanceTimersByTimeAsync(150);
      await h.stop();
      expect(vi.getTimerCount()).toBe(0);
      await vi.advanceTimersByTimeAsync(1000);
      expect(fn).toHaveBeenCalledTimes(1);
    });
  });

  describe('runAt', () => {
    it('runs once at the given date, then holds no timer', async () => {
      const fn = vi.fn();
      const h = track(runAt({ name: 'launch', at: new Date('2026-06-01T00:00:05Z'), fn }));
      await vi.advanceTimersByTimeAsync(4999);
      expect(fn).not.toHaveBeenCalled();
      expect(h.active).toBe(true);
      await vi.advanceTimersByTimeAsync(1);
      expect(fn).toHaveBeenCalledTimes(1);
      expect(fn.mock.calls[0]![0]).toMatchObject({ name: 'launch', kind: 'at', run: 1 });
      expect(h.active).toBe(false);
      expect(vi.getTimerCount()).toBe(0);
      await vi.advanceTimersByTimeAsync(60_000);
      expect(fn).toHaveBeenCalledTimes(1);
    });

    it('waits past the 2^31-1 ms timer limit for a date 30 days ahead', async () => {
      const fn = vi.fn();
      const at = new Date(Date.now() + 30 * 86_400_000);
      track(runAt({ name: 'far', at, fn }));
      await vi.advanceTimersByTimeAsync(MAX_TIMER_MS + 1);
      expect(fn).not.toHaveBeenCalled();
      await vi.advanceTimersByTimeAsync(at.getTime() - Date.now() - 1);
      expect(fn).not.toHaveBeenCalled();
      await vi.advanceTimersByTimeAsync(1);
      expect(fn).toHaveBeenCalledTimes(1);
      expect(Date.now()).toBe(at.getTime());
    });

    it('runs a date already past right away, and reports its failure with kind "at"', async () => {
      const onError = vi.fn();
      track(
        runAt({
          name: 'late',
          at: new Date('2020-01-01T00:00:00Z'),
          fn: () => {
            throw new Error('x');
          },
          onError,
        }),
      );
      await vi.advanceTimersByTimeAsync(0);
      expect(onError).toHaveBeenCalledWith('late', 'at', expect.any(Error), expect.stringContaining('Error: x'));
    });

    it('stop() before the date cancels it', async () => {
      const fn = vi.fn();
      const h = runAt({ name: 'cancelled', at: new Date(Date.now() + 1000), fn });
      await h.stop();
      expect(vi.getTimerCount()).toBe(0);
      await vi.advanceTimersByTimeAsync(2000);
      expect(fn).not.toHaveBeenCalled();
    });
  });

  describe('runOnce', () => {
    it('runs once after delayMs (default 0, never synchronously)', async () => {
      const fn = vi.fn();
      track(runOnce({ name: 'warm', fn }));
      expect(fn).not.toHaveBeenCalled();
      await vi.advanceTimersByTimeAsync(0);
      expect(fn).toHaveBeenCalledTimes(1);
      const later = vi.fn();
      track(runOnce({ name: 'later', delayMs: 300, fn: later }));
      await vi.advanceTimersByTimeAsync(299);
      expect(later).not.toHaveBeenCalled();
      await vi.advanceTimersByTimeAsync(1);
      expect(later).toHaveBeenCalledTimes(1);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('stop() during the call waits for it', async () => {
      const gate = deferred();
      const h = runOnce({ name: 'busy', fn: () => gate.promise });
      await vi.advanceTimersByTimeAsync(0);
      expect(h.running).toBe(true);
      let stopped = false;
      const p = h.stop().then(() => (stopped = true));
      await vi.advanceTimersByTimeAsync(100);
      expect(stopped).toBe(false);
      gate.resolve();
      await p;
      expect(stopped).toBe(true);
    });
  });

  describe('option validation', () => {
    it('rejects bad options at the call with ERR_BACKGROUND_OPTIONS naming the option, and schedules nothing', () => {
      const fn = (): void => undefined;
      const cases: Array<[() => unknown, string]> = [
        [() => runEvery({ name: 'x', intervalMs: 0, fn }), 'intervalMs'],
        [() => runEvery({ name: 'x', intervalMs: 1.5, fn }), 'intervalMs'],
        [() => runEvery({ name: 'x', intervalMs: 2 ** 31, fn }), 'intervalMs'],
        [() => runEvery({ name: 'x', intervalMs: '100' as unknown as number, fn }), 'intervalMs'],
        [() => runEvery({ name: 'x', fn } as unknown as Parameters<typeof runEvery>[0]), 'intervalMs'],
        [() => runEvery({ name: 'x', intervalMs: 10, fn, immediate: 'yes' as unknown as boolean }), 'immediate'],
        [() => runAt({ name: 'x', at: new Date('not a date'), fn }), 'at'],
        [() => runAt({ name: 'x', at: '2027-01-01' as unknown as Date, fn }), 'at'],
        [() => runOnce({ name: 'x', delayMs: -1, fn }), 'delayMs'],
        [() => runOnce({ name: 'x', delayMs: Number.POSITIVE_INFINITY, fn }), 'delayMs'],
        [() => runOnce({ name: '', fn }), 'name'],
        [() => runOnce({ name: 7 as unknown as string, fn }), 'name'],
        [() => runOnce({ name: 'x', fn: undefined as unknown as () => void }), 'fn'],
        [() => runOnce({ name: 'x', fn, onError: 'log' as unknown as () => void }), 'onError'],
        [() => runOnce({ name: 'x', fn, unref: 1 as unknown as boolean }), 'unref'],
      ];
      for (const [call, option] of cases) {
        const err = expectThrown(call, BackgroundError);
        expect(err.code).toBe('ERR_BACKGROUND_OPTIONS');
        expect(err.message).toContain(`option "${option}"`);
      }
      expect(vi.getTimerCount()).toBe(0);
    });
  });
});

describe('schedules and process lifetime', () => {
  const child = fileURLToPath(new URL('./fixtures/schedule-child.ts', import.meta.url));

  /** Start the child and report whether it exited on its own within `waitMs`. */
  function exitsWithin(mode: string, waitMs: number): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const proc = spawn(process.execPath, ['--import', 'tsx', child, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
      let timer: NodeJS.Timeout | undefined;
      proc.stdout.on('data', () => {
        timer ??= setTimeout(() => {
          proc.kill('SIGKILL');
          resolve(false);
        }, waitMs);
      });
      proc.on('error', reject);
      proc.on('exit', (code, signal) => {
        if (timer) clearTimeout(timer);
        if (signal === null) resolve(code === 0);
      });
    });
  }

  it('a stopped runEvery and a finished runOnce hold no reference to the function (checked with a real GC)', async () => {
    const script = fileURLToPath(new URL('./fixtures/schedule-gc.ts', import.meta.url));
    const out = await new Promise<string>((resolve, reject) => {
      const proc = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', script], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let text = '';
      proc.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
      proc.on('error', reject);
      proc.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`child exited with ${code}`))));
    });
    const result = JSON.parse(out) as { alive: string[]; runs: { every: number; once: number }; active: boolean[] };
    expect(result.runs.every).toBeGreaterThan(0);
    expect(result.runs.once).toBe(1);
    expect(result.active).toEqual([false, false]);
    expect(result.alive).toEqual([]);
  });

  it('an active schedule keeps the process alive by default; unref: true or stop() lets it exit', async () => {
    const [ref, unref, stopped] = await Promise.all([
      exitsWithin('ref', 1500),
      exitsWithin('unref', 1500),
      exitsWithin('stop', 1500),
    ]);
    expect(ref).toBe(false);
    expect(unref).toBe(true);
    expect(stopped).toBe(true);
  });
});
