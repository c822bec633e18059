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
