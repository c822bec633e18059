import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'schedule-worker.ts');

/** A schedule-worker child process. */
export interface ScheduleChild {
  proc: ChildProcess;
  ready: Promise<void>;
  exited: Promise<void>;
  out: string[];
}

/** Start a child that declares the schedule and runs its jobs (see fixtures/schedule-worker.ts). */
export function startScheduleWorker(args: Record<string, unknown>): ScheduleChild {
  const proc = spawn(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify(args)], {
    cwd: process.cwd(),
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GATEHOUSE_LOG_LEVEL: 'silent' },
  });
  const out: string[] = [];
  let resolveReady!: () => void;
  const ready = new Promise<void>((r) => (resolveReady = r));
  proc.stdout!.on('data', (b: Buffer) => {
    out.push(b.toString());
    if (out.join('').includes('ready')) resolveReady();
  });
  proc.stderr!.on('data', (b: Buffer) => out.push(b.toString()));
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  void exited.then(() => resolveReady());
  return { proc, ready, exited, out };
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
