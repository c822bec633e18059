import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A unique temp dir per test. */
export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-buffers-'));
}

/** Poll `fn` until it returns true or `timeoutMs` passes (generous; for cross-async conditions). */
export async function waitFor(fn: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A tiny real lifecycle implementing the structural LifecycleLike input. */
export class TestLifecycle {
  status = 'ACTIVE';
  private listeners = new Set<(next: string, prev: string) => void>();
  onChange(listener: (next: string, prev: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  set(next: string): void {
    const prev = this.status;
    this.status = next;
    for (const l of this.listeners) l(next, prev);
  }
  get listenerCount(): number {
    return this.listeners.size;
  }
}

/** A worker fixture running in a child process: its output, and promises for its "ready" line and its exit. */
export interface WorkerChild {
  proc: ChildProcess;
  /** Resolves once the child printed `ready` (or exited). */
  ready: Promise<void>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  out: string[];
}

/** Run `fixture` (a .ts file) under tsx with `args` as its JSON argument, logs silenced. */
export function spawnWorker(fixture: string, args: Record<string, unknown>): WorkerChild {
  const proc = spawn(process.execPath, ['--import', 'tsx', fixture, JSON.stringify(args)], {
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
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  void exited.then(() => resolveReady());
  return { proc, ready, exited, out };
}
