import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { BackgroundError, runAt } from '../../src/background/index.js';
import { BufferError, TaskBuffer } from '../../src/buffers/index.js';
import { expectThrown, tempDir } from '../helpers.js';

type Handlers = { TICK: () => void };

describe('Hardening: schedules refuse what would never fire or would flood the queue', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function buffer(): { tasks: TaskBuffer<Handlers>; runs: number[] } {
    const { dir, cleanup } = tempDir('gatehouse-hardening-sched-');
    const runs: number[] = [];
    const tasks = new TaskBuffer<Handlers>({
      dataDir: dir,
      queue: 'sched',
      timeoutMs: 0,
      pollIntervalMs: 50,
      handlers: { TICK: () => void runs.push(Date.now()) },
    });
    cleanups.push(cleanup, () => tasks.stop({ timeoutMs: 1000 }));
    return { tasks, runs };
  }

  it('everyMs under 1000 ms (the default minScheduleEveryMs) and at beyond the Date range are refused; nothing stored changes', async () => {
    const { tasks, runs } = buffer();
    const keep = await tasks.schedule('keep', { everyMs: 1000 }, 'TICK', {});
    for (const [spec, pattern] of [
      [{ everyMs: 1 }, /spec\.everyMs must be at least 1000 ms \(the buffer's minScheduleEveryMs\), got 1/],
      [{ everyMs: 999 }, /at least 1000 ms/],
      [{ at: 9e15 }, /spec\.at .* \(the Date range\), got 9000000000000000/],
      [{ at: 8_640_000_000_000_001 }, /the Date range/],
    ] as const) {
      const err = expectThrown(() => tasks.schedule('flood', spec, 'TICK', {}, { missed: 'all' }), BufferError);
      expect(err.code).toBe('ERR_BUFFER_INVALID_INPUT');
      expect(err.message).toMatch(pattern);
    }
    // The largest Date is accepted and lists as a real date, never `Invalid Date`.
    const far = await tasks.schedule('far', { at: 8_640_000_000_000_000 }, 'TICK', {});
    expect((far.spec as { at: Date }).at.toISOString()).toBe('+275760-09-13T00:00:00.000Z');
    expect((await tasks.schedules()).map((s) => [s.name, s.spec])).toEqual([
      ['far', { at: new Date(8_640_000_000_000_000) }],
      ['keep', keep.spec],
    ]);
    // At the minimum, 3 s make at most 4 jobs (the everyMs: 1 with missed 'all' stored 3,000).
    tasks.start();
    await new Promise((r) => setTimeout(r, 3000));
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs.length).toBeLessThanOrEqual(4);
  }, 20_000);

  it('the floor is an option (minScheduleEveryMs), itself bounded', () => {
    const { dir, cleanup } = tempDir('gatehouse-hardening-sched-');
    cleanups.push(cleanup);
    const err = expectThrown(
      () => new TaskBuffer<Handlers>({ dataDir: dir, minScheduleEveryMs: 1, handlers: { TICK: () => undefined } }),
      BufferError,
    );
    expect(err.code).toBe('ERR_BUFFER_OPTIONS');
    expect(err.message).toMatch(/minScheduleEveryMs/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('runAt refuses a Date outside the Date range (Invalid Date)', () => {
    let ran = 0;
    const err = expectThrown(() => runAt({ name: 'never', at: new Date(9e15), fn: () => void ran++ }), BackgroundError);
    expect(err.message).toMatch(/at/);
    expect(ran).toBe(0);
  });
});
