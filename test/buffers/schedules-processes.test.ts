import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QUEUE_FILE } from '../../src/buffers/internal.js';
import { tempDir } from './helpers.js';
import { runTwoWorkers, runsOf, sleep, slotOf, startScheduleWorker, type ScheduleChild } from './schedule-helpers.js';

const EVERY = 500;

describe('TaskBuffer schedules across processes (SQLite, real child processes)', () => {
  let dir: string;
  const children: ScheduleChild[] = [];

  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    for (const c of children.splice(0)) {
      if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
      await c.exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('two processes declaring the same 500 ms schedule for 6 s push one job per slot, not one per process', async () => {
    const runsFile = path.join(dir, 'runs.txt');
    const args = { dataDir: dir, queue: 'ticks', name: 'tick', everyMs: EVERY, missed: 'all', runsFile };
    const { t0, t1 } = await runTwoWorkers(children, args, 6000);

    const db = new Database(path.join(dir, QUEUE_FILE), { readonly: true });
    const jobs = db
      .prepare(`SELECT id, dedupe_key AS key, state FROM jobs WHERE queue = 'ticks' ORDER BY id`)
      .all() as { id: number; key: string; state: string }[];
    db.close();
    const slots = jobs.map((j) => slotOf(j.key));
    // No slot pushed twice, every slot on the 500 ms grid.
    expect(new Set(slots).size).toBe(slots.length);
    for (const s of slots) expect(s % EVERY).toBe(0);
    // Every slot of the window in which both processes ran is there, exactly once: about 12, not 24.
    const first = (Math.floor(t0 / EVERY) + 1) * EVERY;
    const inWindow = slots.filter((s) => s >= first && s <= t1);
    const expected = Math.floor(t1 / EVERY) - Math.floor(t0 / EVERY);
    expect(expected).toBeGreaterThanOrEqual(11);
    expect(inWindow.length).toBeGreaterThanOrEqual(expected - 1); // the last slot may fall after the SIGTERMs
    expect(inWindow.length).toBeLessThanOrEqual(expected);
    for (let s = first; s <= t1 - 300; s += EVERY) expect(slots, `slot ${s}`).toContain(s);
    // Each job ran once (one execution per job id), in one process or the other.
    const runs = runsOf(runsFile);
    expect(new Set(runs).size).toBe(runs.length);
    const ids = new Set(jobs.map((j) => j.id));
    for (const id of runs) expect(ids.has(id)).toBe(true);
    expect(runs.length).toBeGreaterThanOrEqual(inWindow.length - 1);
    expect(jobs.filter((j) => j.state === 'done').length).toBe(runs.length);
  }, 40_000);

  it('a schedule survives a kill -9: the restarted process keeps its progress and runs the latest missed slot once', async () => {
    const runsFile = path.join(dir, 'runs.txt');
    const args = { dataDir: dir, queue: 'ticks', name: 'tick', everyMs: 1000, missed: 'latest', runsFile };
    const file = path.join(dir, QUEUE_FILE);
    const read = (): { slots: number[]; lastRunAt: number | null; rev: number } => {
      const db = new Database(file, { readonly: true });
      try {
        const slots = (
          db.prepare(`SELECT dedupe_key AS key FROM jobs WHERE queue = 'ticks' ORDER BY id`).all() as { key: string }[]
        ).map((r) => slotOf(r.key));
        const row = db
          .prepare(`SELECT last_run_at AS lastRunAt, rev FROM schedules WHERE queue = 'ticks' AND name = 'tick'`)
          .get() as { lastRunAt: number | null; rev: number };
        return { slots, lastRunAt: row.lastRunAt, rev: row.rev };
      } finally {
        db.close();
      }
    };
    const first = startScheduleWorker(args);
    children.push(first);
    await first.ready;
    const end = Date.now() + 10_000;
    while (read().slots.length < 1 && Date.now() < end) await sleep(20);
    first.proc.kill('SIGKILL');
    await first.exited;
    const before = read();
    expect(before.slots.length).toBeGreaterThanOrEqual(1);
    expect(before.lastRunAt).toBe(Math.max(...before.slots));
    await sleep(2600); // at least two slots pass with nothing running

    const restartAt = Date.now();
    const second = startScheduleWorker(args);
    children.push(second);
    await second.ready;
    const end2 = Date.now() + 10_000;
    while (read().slots.length <= before.slots.length && Date.now() < end2) await sleep(20);
    second.proc.kill('SIGTERM');
    await second.exited;
    const after = read();
    const added = after.slots.slice(before.slots.length);
    // The missed slots (all of them before the restart) gave exactly one job, the latest of them or a later one.
    expect(added.length).toBeGreaterThanOrEqual(1);
    expect(new Set(after.slots).size).toBe(after.slots.length);
    expect(added[0]!).toBeGreaterThanOrEqual(Math.floor(restartAt / 1000) * 1000);
    expect(added[0]! - before.lastRunAt!).toBeGreaterThanOrEqual(2000);
    expect(after.lastRunAt).toBe(Math.max(...after.slots));
    // The restarted process declared the same schedule: kept (revision 1), not replaced.
    expect(before.rev).toBe(1);
    expect(after.rev).toBe(1);
    // The first job is the catch-up; none of the other missed slots was pushed.
    expect(after.slots.filter((s) => s > before.lastRunAt! && s < Math.floor(restartAt / 1000) * 1000)).toEqual([]);
  }, 40_000);

  it('the scheduler timer does not keep a process alive without keepAlive', async () => {
    const runsFile = path.join(dir, 'runs.txt');
    const child = startScheduleWorker({
      dataDir: dir,
      queue: 'ticks',
      name: 'tick',
      everyMs: 200,
      missed: 'latest',
      runsFile,
      keepAlive: false,
    });
    children.push(child);
    const exitedAlone = await Promise.race([child.exited.then(() => true), sleep(15_000).then(() => false)]);
    expect(exitedAlone, child.out.join('')).toBe(true);
    expect(child.proc.exitCode, child.out.join('')).toBe(0);
    expect(child.out.join('')).toContain('ready');
  }, 30_000);
});
