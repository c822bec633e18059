import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { z } from 'zod';
import { QUEUE_FILE } from '../../src/buffers/internal.js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  BufferError,
  TaskBuffer,
  defineTask,
  type ScheduleInfo,
  type TaskBufferOptions,
  type TaskJobInfo,
} from '../../src/buffers/index.js';
import { TestLifecycle, tempDir, waitFor } from './helpers.js';
import { sleep, slotOf } from './schedule-helpers.js';
import { expectThrown } from '../helpers.js';

type Handlers = {
  TICK: (data: unknown, job: { id: number }) => unknown;
  FAIL: () => never;
  TYPED: ReturnType<typeof defineTask>;
};

describe('TaskBuffer schedules (SQLite)', () => {
  let dir: string;
  const buffers: TaskBuffer<Handlers>[] = [];
  let runs: number[];
  let seen: unknown[];

  beforeEach(() => {
    dir = tempDir();
    runs = [];
    seen = [];
  });
  afterEach(async () => {
    vi.useRealTimers();
    for (const b of buffers.splice(0)) await b.stop({ timeoutMs: 1000 });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function make(opts: TaskBufferOptions<Handlers> = {}): TaskBuffer<Handlers> {
    const b = new TaskBuffer<Handlers>({
      dataDir: dir,
      queue: 'sched',
      timeoutMs: 0,
      pollIntervalMs: 50,
      minScheduleEveryMs: 50, // short intervals keep these tests quick; the 1000 ms default has its own test
      backoff: { type: 'fixed', delayMs: 10, jitter: false },
      handlers: {
        TICK: (d, job) => {
          runs.push(job.id);
          seen.push(d);
        },
        FAIL: () => {
          throw new Error('always fails');
        },
        TYPED: defineTask({ description: 'typed', input: z.object({ n: z.number().int() }), handle: () => undefined }),
      },
      ...opts,
    });
    buffers.push(b);
    return b;
  }

  /** Scheduled jobs of the queue, straight from the file: id, slot and state. */
  function jobs(queue = 'sched'): { id: number; slot: number; state: string; type: string }[] {
    const db = new Database(path.join(dir, QUEUE_FILE), { readonly: true });
    try {
      const rows = db
        .prepare('SELECT id, dedupe_key AS key, state, type FROM jobs WHERE queue = ? ORDER BY id')
        .all(queue) as { id: number; key: string; state: string; type: string }[];
      return rows.map((r) => ({ id: r.id, slot: slotOf(r.key), state: r.state, type: r.type }));
    } finally {
      db.close();
    }
  }

  it('stores a schedule and lists it with its next slot; a buffer that is not started pushes nothing', async () => {
    const tasks = make();
    const before = Date.now();
    const info = tasks.schedule('tick', { everyMs: 200 }, 'TICK', { hello: 1 });
    expect(info).toEqual({
      name: 'tick',
      spec: { everyMs: 200 },
      taskType: 'TICK',
      data: { hello: 1 },
      options: { missed: 'latest', maxMissed: 100, graceMs: 60_000 },
      nextRunAt: expect.any(Number),
      lastRunAt: null,
    });
    expect(info.nextRunAt! % 200).toBe(0);
    expect(info.nextRunAt!).toBeGreaterThan(before);
    expect(info.nextRunAt!).toBeLessThanOrEqual(Date.now() + 200);
    expect(tasks.schedules()).toEqual([info]);
    await sleep(500);
    expect(tasks.stats().pending).toBe(0);
    expect(tasks.schedules()[0]!.lastRunAt).toBeNull();
  });

  it('pushes each slot as an ordinary job that runs, with the schedule data', async () => {
    const tasks = make();
    const completed: TaskJobInfo[] = [];
    tasks.on('completed', (j) => completed.push(j));
    tasks.schedule('tick', { everyMs: 200 }, 'TICK', { k: 'v' });
    tasks.start();
    await waitFor(() => completed.length >= 3, 5000, 'three scheduled jobs');
    const js = jobs();
    expect(js.length).toBeGreaterThanOrEqual(3);
    for (const j of js) expect(j.slot % 200).toBe(0);
    expect(new Set(js.map((j) => j.slot)).size).toBe(js.length);
    expect(seen.slice(0, 3)).toEqual([{ k: 'v' }, { k: 'v' }, { k: 'v' }]);
    expect(completed[0]!.type).toBe('TICK');
    const s = tasks.schedules()[0]!;
    expect(s.lastRunAt).toBe(Math.max(...jobs().map((j) => j.slot)));
    expect(s.nextRunAt).toBe(s.lastRunAt! + 200);
  });

  it('an at schedule runs once and then has no next slot', async () => {
    const tasks = make();
    const at = new Date(Date.now() + 150);
    const info = tasks.schedule('launch', { at }, 'TICK', {});
    expect(info.spec).toEqual({ at });
    expect(info.nextRunAt).toBe(at.getTime());
    tasks.start();
    await waitFor(() => runs.length === 1, 5000, 'the launch job');
    await sleep(300);
    expect(runs.length).toBe(1);
    expect(jobs().map((j) => j.slot)).toEqual([at.getTime()]);
    expect(tasks.schedules()[0]).toMatchObject({ nextRunAt: null, lastRunAt: at.getTime() });
    // Declaring it again (same spec) does not run it again.
    tasks.schedule('launch', { at }, 'TICK', {});
    await sleep(200);
    expect(runs.length).toBe(1);
  });

  it('redeclaring identically keeps the progress; a different spec, data or policy replaces it', async () => {
    const tasks = make();
    tasks.schedule('tick', { everyMs: 200 }, 'TICK', {});
    tasks.start();
    await waitFor(() => tasks.schedules()[0]!.lastRunAt !== null, 5000, 'a first slot');
    const kept = tasks.schedules()[0]!;
    const again = tasks.schedule('tick', { everyMs: 200 }, 'TICK', {});
    expect(again.lastRunAt).not.toBeNull();
    expect(again.nextRunAt).toBeGreaterThanOrEqual(kept.nextRunAt!);

    const replaced = tasks.schedule('tick', { cron: '0 3 * * *', tz: 'Europe/Paris' }, 'TICK', { v: 2 });
    expect(replaced.spec).toEqual({ cron: '0 3 * * *', tz: 'Europe/Paris' });
    expect(replaced.data).toEqual({ v: 2 });
    expect(replaced.nextRunAt).toBeGreaterThan(Date.now() + 200);
    const list = tasks.schedules();
    expect(list).toHaveLength(1);
    expect(list[0]).toEqual(replaced);
    // The old 200 ms slots stop: nothing new is pushed.
    const count = jobs().length;
    await sleep(600);
    expect(jobs().length).toBe(count);

    const policy = tasks.schedule(
      'tick',
      { cron: '0 3 * * *', tz: 'Europe/Paris' },
      'TICK',
      { v: 2 },
      { missed: 'skip', graceMs: 5000 },
    );
    expect(policy.options).toEqual({ missed: 'skip', maxMissed: 100, graceMs: 5000 });
    expect(tasks.schedules()).toEqual([policy]);
  });

  it('unschedule stops a schedule and leaves already pushed jobs alone', async () => {
    const tasks = make();
    tasks.schedule('tick', { everyMs: 100 }, 'TICK', {});
    tasks.schedule('other', { everyMs: 60_000 }, 'TICK', {});
    tasks.start();
    await waitFor(() => jobs().length >= 2, 5000, 'two slots');
    expect(tasks.unschedule('tick')).toBe(true);
    const count = jobs().length;
    await sleep(500);
    expect(jobs().length).toBe(count);
    expect(tasks.schedules().map((s) => s.name)).toEqual(['other']);
    expect(tasks.unschedule('tick')).toBe(false);
    await waitFor(() => tasks.stats().done === count, 5000, 'the pushed jobs to finish');
  });

  it('rejects malformed specs, names, options and data at the call, naming the field; nothing stored changes', async () => {
    const tasks = make();
    const good = tasks.schedule('keep', { everyMs: 60_000 }, 'TICK', { a: 1 });
    const bad: [unknown, RegExp][] = [
      [{ cron: 'not a cron' }, /spec\.cron/],
      [{ cron: '61 * * * *' }, /spec\.cron/],
      [{ cron: '0 0 30 2 *' }, /spec\.cron .* never matches/],
      [{ cron: '' }, /spec\.cron/],
      [{ cron: '* * * * *', tz: 'Mars/Olympus' }, /spec\.tz/],
      [{ cron: '* * * * *', tz: 7 }, /spec\.tz/],
      [{ everyMs: 0 }, /spec\.everyMs/],
      [{ everyMs: -500 }, /spec\.everyMs/],
      [{ everyMs: 1.5 }, /spec\.everyMs/],
      [{ everyMs: '500' }, /spec\.everyMs/],
      [{ everyMs: 500, tz: 'UTC' }, /spec\.tz/],
      [{ at: new Date('nope') }, /spec\.at/],
      [{ at: 'tomorrow-ish' }, /spec\.at/],
      [{ at: Number.NaN }, /spec\.at/],
      [{ at: 9e15 }, /spec\.at .*Date range/],
      [{ everyMs: 10 }, /spec\.everyMs must be at least 50 ms/],
      [{ everyMs: 500, at: new Date() }, /exactly one of cron, everyMs, at/],
      [{}, /exactly one of/],
      [null, /schedule spec/],
      [{ every: 500 }, /exactly one of/],
    ];
    for (const [spec, message] of bad) {
      for (const name of ['keep', 'fresh']) {
        const err = expectThrown(() => tasks.schedule(name, spec as never, 'TICK', {}), BufferError);
        expect(err.code, String(JSON.stringify(spec))).toBe('ERR_BUFFER_INVALID_INPUT');
        expect(err.message).toMatch(message);
      }
    }
    expect(expectThrown(() => tasks.schedule('bad name!', { everyMs: 500 }, 'TICK', {}), BufferError).message).toMatch(
      /schedule name/,
    );
    expect(
      expectThrown(
        () => tasks.schedule('keep', { everyMs: 500 }, 'TICK', {}, { missed: 'sometimes' as never }),
        BufferError,
      ).message,
    ).toMatch(/option missed/);
    expect(
      expectThrown(() => tasks.schedule('keep', { everyMs: 500 }, 'TICK', {}, { maxMissed: 0 }), BufferError).message,
    ).toMatch(/option maxMissed/);
    expect(
      expectThrown(() => tasks.schedule('keep', { everyMs: 500 }, 'TICK', {}, { graceMs: -1 }), BufferError).message,
    ).toMatch(/option graceMs/);
    expect(expectThrown(() => tasks.schedule('keep', { everyMs: 500 }, 'NOPE' as 'TICK', {}), BufferError).code).toBe(
      'ERR_BUFFER_UNKNOWN_TASK',
    );
    expect(expectThrown(() => tasks.schedule('keep', { everyMs: 500 }, 'TYPED', { n: 'x' }), BufferError).code).toBe(
      'ERR_BUFFER_INVALID_PAYLOAD',
    );
    expect(expectThrown(() => tasks.schedule('keep', { everyMs: 500 }, 'TICK', { f: () => 1 }), BufferError).code).toBe(
      'ERR_BUFFER_INVALID_PAYLOAD',
    );
    expect(tasks.schedules()).toEqual([good]);
    expect(tasks.stats()).toEqual({ pending: 0, active: 0, done: 0, failed: 0, dead: 0 });
  });

  it('scheduled jobs retry with backoff and end in dead letters like ordinary jobs', async () => {
    const errors: string[] = [];
    const tasks = make({ maxAttempts: 3, onError: (type, _d, err) => errors.push(`${type}: ${err.message}`) });
    const failed: boolean[] = [];
    const dead: TaskJobInfo[] = [];
    tasks.on('failed', (_j, _e, willRetry) => failed.push(willRetry));
    tasks.on('dead', (j) => dead.push(j));
    tasks.schedule('doomed', { at: Date.now() }, 'FAIL', { why: 'test' });
    tasks.start();
    await waitFor(() => dead.length === 1, 5000, 'the dead letter');
    expect(failed).toEqual([true, true, false]);
    expect(errors).toEqual(['FAIL: always fails', 'FAIL: always fails', 'FAIL: always fails']);
    expect(dead[0]).toMatchObject({ type: 'FAIL', data: { why: 'test' }, attempts: 3, maxAttempts: 3 });
    const letters = tasks.deadLetters();
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      type: 'FAIL',
      data: { why: 'test' },
      attempts: 3,
      error: 'Error: always fails',
    });
    expect(tasks.stats()).toMatchObject({ dead: 1, pending: 0, failed: 0 });
  });

  it('keeps pushing slots while the lifecycle pauses the workers; they run after resume', async () => {
    const lifecycle = new TestLifecycle();
    lifecycle.set('PAUSED');
    const tasks = make({ lifecycle });
    tasks.schedule('tick', { everyMs: 100 }, 'TICK', {});
    tasks.start();
    await waitFor(() => tasks.stats().pending >= 2, 5000, 'slots pushed while paused');
    expect(runs).toEqual([]);
    lifecycle.set('ACTIVE');
    await waitFor(() => runs.length >= 2, 5000, 'the paused slots to run');
  });

  it('stop() clears the scheduler: no slot is pushed afterwards', async () => {
    const tasks = make();
    tasks.schedule('tick', { everyMs: 100 }, 'TICK', {});
    tasks.start();
    await waitFor(() => jobs().length >= 1, 5000, 'a slot');
    await tasks.stop();
    const count = jobs().length;
    await sleep(400);
    expect(jobs().length).toBe(count);
    expect(() => tasks.schedule('x', { everyMs: 100 }, 'TICK', {})).toThrow(/stopped/);
    expect(() => tasks.schedules()).toThrow(/stopped/);
  });

  describe('missed slots after a restart', () => {
    /** Run a 1 s schedule, stop after its first slot, stay down ~2.5 s, restart mid-interval. */
    async function restart(
      options: Parameters<TaskBuffer<Handlers>['schedule']>[4],
    ): Promise<{ before: ScheduleInfo; catchUp: number[]; restartAt: number }> {
      const first = make();
      first.schedule('tick', { everyMs: 1000 }, 'TICK', {}, options);
      first.start();
      await waitFor(() => first.schedules()[0]!.lastRunAt !== null, 5000, 'a first slot');
      const before = first.schedules()[0]!;
      await first.stop();
      await sleep(2300);
      // Restart between two slots, so the catch-up is the only claim for the next 400 ms or more.
      while (Date.now() % 1000 < 300 || Date.now() % 1000 > 500) await sleep(10);
      const second = make();
      const stored = second.schedules()[0]!;
      expect(stored.lastRunAt).toBe(before.lastRunAt);
      second.schedule('tick', { everyMs: 1000 }, 'TICK', {}, options);
      expect(second.schedules()[0]!.lastRunAt).toBe(before.lastRunAt);
      const restartAt = Date.now();
      second.start();
      await waitFor(() => (second.schedules()[0]!.nextRunAt ?? 0) > restartAt, 2000, 'the catch-up claim');
      const catchUp = jobs()
        .map((j) => j.slot)
        .filter((s) => s > before.lastRunAt!);
      return { before, catchUp, restartAt };
    }

    it("'latest' (default) pushes the latest missed slot once and keeps lastRunAt across the restart", async () => {
      const { catchUp, restartAt, before } = await restart(undefined);
      expect(catchUp).toEqual([Math.floor(restartAt / 1000) * 1000]);
      expect(catchUp[0]! - before.lastRunAt!).toBeGreaterThanOrEqual(2000);
      await waitFor(() => runs.length === 2, 3000, 'the catch-up job to run');
    }, 15_000);

    it("'all' pushes every missed slot up to maxMissed (the latest ones)", async () => {
      const { catchUp, restartAt } = await restart({ missed: 'all', maxMissed: 2 });
      const latest = Math.floor(restartAt / 1000) * 1000;
      expect(catchUp).toEqual([latest - 1000, latest]);
    }, 15_000);

    it("'skip' pushes no slot later than graceMs, and the schedule goes on", async () => {
      const { catchUp, restartAt } = await restart({ missed: 'skip', graceMs: 100 });
      expect(catchUp).toEqual([]);
      await waitFor(() => jobs().length === 2, 3000, 'the next regular slot');
      expect(jobs()[1]!.slot).toBe((Math.floor(restartAt / 1000) + 1) * 1000);
    }, 15_000);
  });

  describe('cron with a time zone across DST changes (fake clock)', () => {
    /** Declare '30 2 * * *' Europe/Paris at `start`, then jump past each expected slot and check the claim. */
    async function walk(start: string, expected: string[]): Promise<void> {
      vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'], now: new Date(start) });
      const tasks = make({ pollIntervalMs: 500 });
      const info = tasks.schedule('nightly', { cron: '30 2 * * *', tz: 'Europe/Paris' }, 'TICK', {});
      expect(new Date(info.nextRunAt!).toISOString()).toBe(expected[0]);
      tasks.start();
      for (let i = 0; i + 1 < expected.length; i++) {
        const slot = Date.parse(expected[i]!);
        vi.setSystemTime(slot - 2000);
        await vi.advanceTimersByTimeAsync(1000);
        expect(jobs()).toHaveLength(i); // not before its time
        vi.setSystemTime(slot + 100);
        await vi.advanceTimersByTimeAsync(1000);
        expect(jobs().map((j) => new Date(j.slot).toISOString())).toEqual(expected.slice(0, i + 1));
        const s = tasks.schedules()[0]!;
        expect(new Date(s.lastRunAt!).toISOString()).toBe(expected[i]);
        expect(new Date(s.nextRunAt!).toISOString()).toBe(expected[i + 1]);
      }
      vi.useRealTimers();
    }

    it('spring forward (2026-03-29): 02:30 does not exist and runs once at 03:30 CEST', async () => {
      await walk('2026-03-27T12:00:00Z', [
        '2026-03-28T01:30:00.000Z', // 02:30 CET
        '2026-03-29T01:30:00.000Z', // 03:30 CEST: the skipped hour's slot, once
        '2026-03-30T00:30:00.000Z', // 02:30 CEST
      ]);
    });

    it('fall back (2026-10-25): 02:30 happens twice and runs once, at the first', async () => {
      await walk('2026-10-24T00:00:00Z', [
        '2026-10-24T00:30:00.000Z', // 02:30 CEST
        '2026-10-25T00:30:00.000Z', // 02:30 CEST, the first of the two
        '2026-10-26T01:30:00.000Z', // 02:30 CET: no run at 2026-10-25T01:30Z (the second 02:30)
      ]);
    });
  });
});
