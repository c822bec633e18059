import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
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
