import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PersistentQueue, TaskBuffer } from '../../src/buffers/index.js';
import { spawnWorker, tempDir, type WorkerChild } from './helpers.js';

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'crash-worker.ts');
const JOBS = 2000;
const LEASE_MS = 1000;

type Child = WorkerChild;

function startWorker(
  dataDir: string,
  sideDb: string,
  queue: string,
  exitWhenDrained: boolean,
  handlerMs: number,
): Child {
  const args = { dataDir, sideDb, queue, workers: 4, leaseMs: LEASE_MS, handlerMs, exitWhenDrained };
  return spawnWorker(WORKER, args);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('TaskBuffer crash safety (real child processes, SIGKILL)', () => {
  let dir: string;
  const children: Child[] = [];

  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => {
    for (const c of children.splice(0))
      if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function scenario(processes: number): Promise<void> {
    const queue = `crash-${processes}`;
    const sideDb = path.join(dir, 'side-effects.db');
    const pusher = new TaskBuffer({ dataDir: dir, queue, handlers: { EFFECT: () => undefined } });
    for (let seq = 0; seq < JOBS; seq++) pusher.push('EFFECT', { seq });
    await pusher.stop();

    const probe = new PersistentQueue({ dataDir: dir, name: queue });
    // Slower handlers with more processes, so at least 10 kills land before the work runs out.
    const handlerMs = 3 * processes;
    const slots: Child[] = [];
    for (let i = 0; i < processes; i++) slots.push(startWorker(dir, sideDb, queue, false, handlerMs));
    children.push(...slots);
    let kills = 0;
    // Kill a worker at random moments (after it is up and working) and restart it, at least 10 times.
    for (let round = 0; kills < 10 && round < 40; round++) {
      const i = round % processes;
      const victim = slots[i]!;
      await victim.ready;
      await sleep(20 + Math.random() * 120);
      if (probe.stats().done >= JOBS - 50) break; // keep some work for the final run
      victim.proc.kill('SIGKILL');
      await victim.exited;
      expect(victim.proc.signalCode, victim.out.join('')).toBe('SIGKILL');
      kills++;
      slots[i] = startWorker(dir, sideDb, queue, false, handlerMs);
      children.push(slots[i]!);
    }
    expect(kills, slots.map((c) => c.out.join('')).join('\n')).toBeGreaterThanOrEqual(10);
    const doneBeforeFinal = probe.stats().done;
    expect(doneBeforeFinal).toBeLessThan(JOBS);

    // Final run: stop the survivors, then workers that exit on their own once the queue is drained.
    for (const c of slots) {
      c.proc.kill('SIGKILL');
      await c.exited;
    }
    const finals = Array.from({ length: processes }, () => startWorker(dir, sideDb, queue, true, handlerMs));
    children.push(...finals);
    const codes = await Promise.race([
      Promise.all(finals.map((c) => c.exited)),
      sleep(60_000).then(() => 'timeout' as const),
    ]);
    expect(codes, finals.map((c) => c.out.join('')).join('\n')).toEqual(finals.map(() => 0));

    const stats = probe.stats();
    expect(stats).toEqual({ pending: 0, active: 0, done: JOBS, failed: 0, dead: 0 });
    const db = new Database(path.join(dir, 'gatehouse-queues.db'), { readonly: true });
    const jobs = db.prepare(`SELECT id, state, attempts, finished_at FROM jobs WHERE queue = ?`).all(queue) as {
      id: number;
      state: string;
      attempts: number;
      finished_at: number | null;
    }[];
    const stuck = db
      .prepare(`SELECT COUNT(*) AS n FROM jobs WHERE state = 'active' AND lease_until < ?`)
      .get(Date.now()) as { n: number };
    db.close();
    expect(jobs).toHaveLength(JOBS);
    expect(jobs.every((j) => j.state === 'done' && j.finished_at !== null)).toBe(true);
    expect(stuck.n).toBe(0);

    const side = new Database(sideDb, { readonly: true });
    const effects = side.prepare('SELECT job_id, seq, runs FROM effects ORDER BY seq').all() as {
      job_id: number;
      seq: number;
      runs: number;
    }[];
    side.close();
    expect(effects).toHaveLength(JOBS);
    expect(effects.map((e) => e.seq)).toEqual(Array.from({ length: JOBS }, (_, i) => i));
    expect(new Set(effects.map((e) => e.job_id))).toEqual(new Set(jobs.map((j) => j.id)));
    // Kills landed mid-work: some jobs were leased by a killed worker and leased again after their lease expired.
    const releasedAfterKill = jobs.filter((j) => j.attempts > 1).length;
    expect(doneBeforeFinal).toBeGreaterThan(0);
    expect(releasedAfterKill).toBeGreaterThan(0);
    const reruns = effects.reduce((s, e) => s + e.runs - 1, 0);
    process.stdout.write(
      `[crash ${processes}p] kills=${kills} doneBeforeFinal=${doneBeforeFinal} reLeased=${releasedAfterKill} handlerReruns=${reruns}\n`,
    );
    await probe.close();
  }

  it('an idle worker in another process picks up jobs pushed later (cross-process polling)', async () => {
    const queue = 'poll';
    const sideDb = path.join(dir, 'side-effects.db');
    const worker = startWorker(dir, sideDb, queue, false, 1);
    children.push(worker);
    await worker.ready;
    await sleep(200); // the worker is idle now: nothing was pushed yet
    const pusher = new TaskBuffer({ dataDir: dir, queue, handlers: { EFFECT: () => undefined } });
    const ids = [0, 1, 2].map((seq) => pusher.push('EFFECT', { seq }));
    await pusher.stop();
    const probe = new PersistentQueue({ dataDir: dir, name: queue });
    const end = Date.now() + 15_000;
    while (probe.stats().done < 3 && Date.now() < end) await sleep(25);
    expect(probe.stats()).toEqual({ pending: 0, active: 0, done: 3, failed: 0, dead: 0 });
    await probe.close();
    worker.proc.kill('SIGKILL');
    await worker.exited;
    const side = new Database(sideDb, { readonly: true });
    const rows = side.prepare('SELECT job_id FROM effects ORDER BY job_id').all() as { job_id: number }[];
    side.close();
    expect(rows.map((r) => r.job_id)).toEqual(ids);
  }, 30_000);

  it('one worker killed at random moments at least 10 times: every job done exactly once, none lost', async () => {
    await scenario(1);
  }, 120_000);

  it('two worker processes sharing the file, killed at random: every job done exactly once, none lost', async () => {
    await scenario(2);
  }, 120_000);
});
