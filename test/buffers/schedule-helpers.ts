import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { spawnWorker, type WorkerChild } from './helpers.js';

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'schedule-worker.ts');

/** A schedule-worker child process. */
export type ScheduleChild = WorkerChild;

/** Start a child that declares the schedule and runs its jobs (see fixtures/schedule-worker.ts). */
export function startScheduleWorker(args: Record<string, unknown>): ScheduleChild {
  return spawnWorker(WORKER, args);
}

/** Job ids the children ran, one entry per execution. */
export function runsOf(file: string): number[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => Number(l.split(' ')[1]));
}

/** The slot (epoch ms) in a scheduled job's key `schedule:<name>:<slot>`. */
export function slotOf(key: string | null | undefined): number {
  const m = /^schedule:[^:]+:(\d+)$/.exec(key ?? '');
  if (!m) throw new Error(`not a schedule slot key: ${String(key)}`);
  return Number(m[1]);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Two children declaring the same schedule (`args`) run side by side for `ms`, then stop on SIGTERM; both must
 * start, keep running and exit 0. They are added to `children` (for the caller's cleanup).
 * @returns when the window started and ended
 */
export async function runTwoWorkers(
  children: ScheduleChild[],
  args: Record<string, unknown>,
  ms: number,
): Promise<{ t0: number; t1: number }> {
  const pair = [startScheduleWorker(args), startScheduleWorker(args)];
  children.push(...pair);
  await Promise.all(pair.map((c) => c.ready));
  for (const c of pair) expect(c.proc.exitCode, c.out.join('')).toBeNull();
  const t0 = Date.now();
  await sleep(ms);
  const t1 = Date.now();
  for (const c of pair) c.proc.kill('SIGTERM');
  await Promise.all(pair.map((c) => c.exited));
  for (const c of pair) expect(c.proc.exitCode, c.out.join('')).toBe(0);
  return { t0, t1 };
}
