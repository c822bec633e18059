import { afterEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay, resolveBackoff, BufferError } from '../../src/buffers/index.js';

describe('backoff', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('grows exponentially from delayMs and is capped by maxDelayMs', () => {
    const b = resolveBackoff({ type: 'exponential', delayMs: 1000, maxDelayMs: 10_000, jitter: false });
    expect([1, 2, 3, 4, 5, 6, 50].map((n) => backoffDelay(n, b))).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
  });

  it('grows linearly and stays fixed for the other types', () => {
    const lin = resolveBackoff({ type: 'linear', delayMs: 500, maxDelayMs: 1800, jitter: false });
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, lin))).toEqual([500, 1000, 1500, 1800]);
    const fixed = resolveBackoff({ type: 'fixed', delayMs: 250, jitter: false });
    expect([1, 2, 9].map((n) => backoffDelay(n, fixed))).toEqual([250, 250, 250]);
  });

  it('jitter keeps each delay between half and the full computed delay', () => {
    const b = resolveBackoff({ type: 'exponential', delayMs: 1000, maxDelayMs: 60_000, jitter: true });
    expect(backoffDelay(3, b, () => 0)).toBe(2000);
    expect(backoffDelay(3, b, () => 0.999999)).toBe(4000);
    expect(backoffDelay(3, b, () => 0.5)).toBe(3000);
    expect(backoffDelay(30, b, () => 0.999999)).toBe(60_000);
  });

  it('gives a retry schedule in wall-clock time under fake timers', () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2030-01-01T00:00:00Z'));
    const b = resolveBackoff({ delayMs: 1000, maxDelayMs: 5000, jitter: false });
    const start = Date.now();
    const schedule: number[] = [];
    for (let attempt = 1; attempt <= 5; attempt++) {
      const runAt = Date.now() + backoffDelay(attempt, b);
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
