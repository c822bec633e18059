import fs from 'node:fs';
import path from 'node:path';
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BufferError, TaskBuffer, type TaskJobInfo } from '../../src/buffers/index.js';
import { tempDir } from './helpers.js';
import {
  obliterate,
  PREFIX,
  queueName,
  redisAvailable,
  redisOption,
  REDIS_URL,
  REQUIRE,
  until,
  warnSkipped,
} from './bullmq/helpers.js';
import { runTwoWorkers, runsOf, slotOf, type ScheduleChild } from './schedule-helpers.js';

const available = await redisAvailable();
warnSkipped(available, 'the BullMQ schedule tests');

type Handlers = { TICK: (data: unknown, job: { id: number }) => unknown; FAIL: () => never };

/** Every job of a BullMQ test queue, with the slot its deduplication key names (missed: 'all' keys are per slot). */
async function queueJobs(queue: string): Promise<{ id: number; slot: number; name: string }[]> {
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const q = new Queue(queue, { connection, prefix: PREFIX });
  try {
    const jobs = (
      await q.getJobs(['completed', 'wait', 'prioritized', 'delayed', 'active', 'failed', 'paused'])
    ).filter((j): j is Job => j !== undefined);
    return jobs
      .map((j) => ({ id: Number(j.id), slot: slotOf(j.deduplicationId ?? j.opts.deduplication?.id), name: j.name }))
      .sort((a, b) => a.slot - b.slot);
  } finally {
    await q.close();
    connection.disconnect();
  }
}

describe.skipIf(!available && !REQUIRE)('TaskBuffer schedules on BullMQ (real Redis)', () => {
  const buffers: TaskBuffer<Handlers, typeof redisOption>[] = [];
  const queues: string[] = [];
  const children: ScheduleChild[] = [];
  let dir: string;
  let runs: number[];

  beforeEach(() => {
    dir = tempDir();
    runs = [];
  });
  afterEach(async () => {
    for (const c of children.splice(0)) {
      if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
      await c.exited;
    }
    for (const b of buffers.splice(0)) await b.stop({ timeoutMs: 1000 });
    const c = new Redis(REDIS_URL);
    for (const q of queues.splice(0)) {
      await obliterate(q);
      const keys = await c.keys(`${PREFIX}:${q}:*`);
      if (keys.length > 0) await c.del(...keys);
    }
    c.disconnect();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function make(queue: string, opts: { maxAttempts?: number } = {}): TaskBuffer<Handlers, typeof redisOption> {
    const b = new TaskBuffer<Handlers, typeof redisOption>({
      redis: redisOption,
      queue,
      timeoutMs: 0,
      pollIntervalMs: 50,
      minScheduleEveryMs: 50,
      backoff: { type: 'fixed', delayMs: 10, jitter: false },
      handlers: {
        TICK: (_d, job) => void runs.push(job.id),
        FAIL: () => {
          throw new Error('always fails');
        },
      },
      ...opts,
    });
    buffers.push(b);
    return b;
  }

  it('declares, lists, replaces and removes schedules; slots run as jobs; the progress survives a restart', async () => {
    const queue = queueName('sched');
    queues.push(queue);
    const tasks = make(queue);
    const info = await tasks.schedule('tick', { everyMs: 300 }, 'TICK', { a: 1 }, { missed: 'all' });
    expect(info).toMatchObject({
      name: 'tick',
      spec: { everyMs: 300 },
      taskType: 'TICK',
      data: { a: 1 },
      lastRunAt: null,
    });
    expect(info.nextRunAt! % 300).toBe(0);
    expect(await tasks.schedules()).toEqual([info]);
    tasks.start();
    await until(() => runs.length >= 2, 5000, 'two scheduled runs');
    // Stopped before reading: a slot firing between two reads made this racy (progress one slot ahead).
    await tasks.stop();
    const jobs = await queueJobs(queue);
    expect(new Set(jobs.map((j) => j.slot)).size).toBe(jobs.length);
    for (const j of jobs) expect(j.name).toBe('TICK');

    // A new buffer (as after a restart) sees the stored schedule and progress; an identical redeclaration keeps it.
    const again = make(queue);
    const progress = (await again.schedules())[0]!;
    expect(progress.lastRunAt).toBe(jobs[jobs.length - 1]!.slot);
    expect((await again.schedule('tick', { everyMs: 300 }, 'TICK', { a: 1 }, { missed: 'all' })).lastRunAt).toBe(
      progress.lastRunAt,
    );
    const replaced = await again.schedule('tick', { cron: '0 3 * * *', tz: 'Asia/Tokyo' }, 'TICK', {});
    expect(replaced.spec).toEqual({ cron: '0 3 * * *', tz: 'Asia/Tokyo' });
    expect(await again.schedules()).toEqual([replaced]);
    const bad = await again.schedule('tick', { everyMs: 0 }, 'TICK', {}).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(BufferError);
    expect((bad as BufferError).message).toMatch(/spec\.everyMs/);
    expect(await again.schedules()).toEqual([replaced]);
    expect(await again.unschedule('tick')).toBe(true);
    expect(await again.unschedule('tick')).toBe(false);
    expect(await again.schedules()).toEqual([]);
  });

  it('scheduled jobs retry and end in dead letters like ordinary jobs', async () => {
    const queue = queueName('sched-dead');
    queues.push(queue);
    const tasks = make(queue, { maxAttempts: 2 });
    const dead: TaskJobInfo[] = [];
    const failed: boolean[] = [];
    tasks.on('failed', (_j, _e, willRetry) => failed.push(willRetry));
    tasks.on('dead', (j) => dead.push(j));
    await tasks.schedule('doomed', { at: new Date() }, 'FAIL', { why: 'test' });
    tasks.start();
    await until(() => dead.length === 1, 10_000, 'the dead letter');
    expect(failed).toEqual([true, false]);
    expect(dead[0]).toMatchObject({ type: 'FAIL', data: { why: 'test' }, attempts: 2 });
    const letters = await tasks.deadLetters();
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ type: 'FAIL', data: { why: 'test' } });
    expect((await tasks.schedules())[0]).toMatchObject({ nextRunAt: null });
  });

  it('two processes declaring the same 500 ms schedule for 6 s push one job per slot, not one per process', async () => {
    const queue = queueName('sched-xproc');
    queues.push(queue);
    const EVERY = 500;
    const runsFile = path.join(dir, 'runs.txt');
    const args = {
      dataDir: dir,
      redis: { url: REDIS_URL, keyPrefix: PREFIX },
      queue,
      name: 'tick',
      everyMs: EVERY,
      missed: 'all',
      runsFile,
    };
    const { t0, t1 } = await runTwoWorkers(children, args, 6000);

    const jobs = await queueJobs(queue);
    const slots = jobs.map((j) => j.slot);
    expect(new Set(slots).size).toBe(slots.length);
    for (const s of slots) expect(s % EVERY).toBe(0);
    const first = (Math.floor(t0 / EVERY) + 1) * EVERY;
    const inWindow = slots.filter((s) => s >= first && s <= t1);
    const expected = Math.floor(t1 / EVERY) - Math.floor(t0 / EVERY);
    expect(expected).toBeGreaterThanOrEqual(11);
    expect(inWindow.length).toBeGreaterThanOrEqual(expected - 1);
    expect(inWindow.length).toBeLessThanOrEqual(expected);
    for (let s = first; s <= t1 - 300; s += EVERY) expect(slots, `slot ${s}`).toContain(s);
    const ranJobs = runsOf(runsFile);
    expect(new Set(ranJobs).size).toBe(ranJobs.length);
    const ids = new Set(jobs.map((j) => j.id));
    for (const id of ranJobs) expect(ids.has(id)).toBe(true);
    expect(ranJobs.length).toBeGreaterThanOrEqual(inWindow.length - 1);
  }, 40_000);
});
