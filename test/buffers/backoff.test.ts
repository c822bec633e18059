import { afterEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay, backoffProblem, resolveBackoff as resolveCore } from '../../src/backoff.js';
import { BufferError } from '../../src/buffers/index.js';
import { resolveTaskBackoff as resolveBackoff } from '../../src/buffers/internal.js';
import { expectThrown } from '../helpers.js';

describe('backoff', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('grows exponentially from delayMs and is capped by maxDelayMs', () => {
    const b = resolveBackoff({ type: 'exponential', delayMs: 1000, maxDelayMs: 10_000, jitter: false });
    expect([1, 2, 3, 4, 5, 6, 50].map((n) => backoffDelay(b, n))).toEqual([
      1000, 2000, 4000, 8000, 10_000, 10_000, 10_000,
    ]);
  });

  it('grows linearly and stays fixed for the other types', () => {
    const lin = resolveBackoff({ type: 'linear', delayMs: 500, maxDelayMs: 1800, jitter: false });
    expect([1, 2, 3, 4].map((n) => backoffDelay(lin, n))).toEqual([500, 1000, 1500, 1800]);
    const fixed = resolveBackoff({ type: 'fixed', delayMs: 250, jitter: false });
    expect([1, 2, 9].map((n) => backoffDelay(fixed, n))).toEqual([250, 250, 250]);
  });

  it('jitter keeps each delay between half and the full computed delay', () => {
    const b = resolveBackoff({ type: 'exponential', delayMs: 1000, maxDelayMs: 60_000, jitter: true });
    expect(backoffDelay(b, 3, () => 0)).toBe(2000);
    expect(backoffDelay(b, 3, () => 0.999999)).toBe(4000);
    expect(backoffDelay(b, 3, () => 0.5)).toBe(3000);
    expect(backoffDelay(b, 30, () => 0.999999)).toBe(60_000);
  });

  it('gives a retry schedule in wall-clock time under fake timers', () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2030-01-01T00:00:00Z'));
    const b = resolveBackoff({ delayMs: 1000, maxDelayMs: 5000, jitter: false });
    const start = Date.now();
    const schedule: number[] = [];
    for (let attempt = 1; attempt <= 5; attempt++) {
      const runAt = Date.now() + backoffDelay(b, attempt);
      vi.setSystemTime(runAt);
      schedule.push(Date.now() - start);
    }
    expect(schedule).toEqual([1000, 3000, 7000, 12_000, 17_000]);
  });

  it('rejects bad options naming the field', () => {
    expect(() => resolveBackoff({ type: 'random' as never })).toThrow(/backoff.type/);
    expect(() => resolveBackoff({ delayMs: -1 })).toThrow(BufferError);
    expect(() => resolveBackoff({ maxDelayMs: Number.NaN })).toThrow(/maxDelayMs/);
  });
});

describe('backoff (the shared module)', () => {
  const settings = {
    defaults: { type: 'exponential', delayMs: 100, maxDelayMs: 1000, jitter: 'full' },
    jitter: 'equal',
  } as const;

  it('applies equal, full and no jitter from one argument order', () => {
    const base = { type: 'exponential', delayMs: 100, maxDelayMs: 1000 } as const;
    expect(backoffDelay({ ...base, jitter: 'equal' }, 3, () => 0)).toBe(200);
    expect(backoffDelay({ ...base, jitter: 'full' }, 3, () => 0)).toBe(0);
    expect(backoffDelay({ ...base, jitter: 'full' }, 3, () => 0.9999)).toBe(400);
    expect(backoffDelay({ ...base, jitter: 'none' }, 3, () => 0)).toBe(400);
    expect(backoffDelay({ ...base, jitter: 'none' }, 3000)).toBe(1000);
  });

  it('merges layers field by field, maps jitter: true to the caller kind, and names the option in errors', () => {
    expect(resolveCore([{ delayMs: 5 }, { delayMs: 7, type: 'fixed', jitter: true }], settings)).toEqual({
      type: 'fixed',
      delayMs: 5,
      maxDelayMs: 1000,
      jitter: 'equal',
    });
    expect(resolveCore(undefined, settings)).toEqual(settings.defaults);
    expect(resolveCore({ jitter: false }, settings).jitter).toBe('none');
    class MyError extends Error {}
    const err = expectThrown(
      () =>
        resolveCore(
          { delayMs: Number.POSITIVE_INFINITY },
          { ...settings, option: 'reconnect.backoff', error: (m) => new MyError(m) },
        ),
      MyError,
    );
    expect(err.message).toMatch(/^reconnect\.backoff\.delayMs must be a finite number >= 0/);
    expect(backoffProblem({ jitter: 'half' })).toMatch(/^backoff\.jitter/);
    expect(backoffProblem({ type: 'fixed', jitter: 'full' })).toBeNull();
  });
});
