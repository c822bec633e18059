import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Lifecycle,
  LifecycleError,
  ServiceUnavailableError,
  SqliteSource,
  type LifecycleState,
} from '../../src/index.js';
import { tempDir } from '../helpers.js';
import { captureLog } from './log-capture.js';

async function until(cond: () => boolean, ms: number): Promise<number> {
  const started = Date.now();
  while (!cond()) {
    if (Date.now() - started > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - started;
}

describe('Lifecycle', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  function make(options: ConstructorParameters<typeof Lifecycle>[0] = {}): Lifecycle {
    const lc = new Lifecycle(options);
    cleanups.push(() => lc.close());
    return lc;
  }
  function dir(): string {
    const d = tempDir('gatehouse-lc-');
    cleanups.push(d.cleanup);
    return d.dir;
  }

  it('survives a source whose first asynchronous read rejects (a Redis source still connecting), then follows it', async () => {
    let reachable = false;
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const lc = make({
        source: {
          name: 'connecting',
          read: () =>
            reachable ? Promise.resolve({ state: 'MAINTENANCE' as const }) : Promise.reject(new Error('connecting')),
          write: () => undefined,
        },
      });
      await new Promise((r) => setTimeout(r, 100));
      expect(unhandled).toEqual([]);
      expect(lc.status).toBe('ACTIVE'); // failMode 'open': the last known state (none yet: ACTIVE)
      reachable = true;
      await lc.refresh();
      expect(lc.status).toBe('MAINTENANCE');
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('fires listeners once per real change, with next and prev, and not for re-sets of the same state', async () => {
    const lc = make();
    const seen: Array<[LifecycleState, LifecycleState]> = [];
    const off = lc.onChange((next, prev) => seen.push([next, prev]));
    await lc.set('MAINTENANCE', { message: 'a' });
    await lc.set('MAINTENANCE', { message: 'b' });
    await lc.set('PAUSED');
    await lc.set('ACTIVE');
    await lc.set('ACTIVE');
    expect(seen).toEqual([
      ['MAINTENANCE', 'ACTIVE'],
      ['PAUSED', 'MAINTENANCE'],
      ['ACTIVE', 'PAUSED'],
    ]);
    off();
    await lc.set('FAILED');
    expect(seen).toHaveLength(3);
  });

  it('keeps notifying other listeners when one throws', async () => {
    const lc = make();
    const seen: string[] = [];
    lc.onChange(() => {
      throw new Error('listener bug');
    });
    lc.onChange((next) => seen.push(next));
    await lc.set('OFFLINE');
    expect(seen).toEqual(['OFFLINE']);
  });

  it('withMaintenance restores the previous state, message and Retry-After even when the callback throws', async () => {
    const lc = make();
    await lc.set('PAUSED', { message: 'paused for billing', retryAfterSec: 42 });
    const during: string[] = [];
    await expect(
      lc.withMaintenance(
        () => {
          during.push(lc.status, lc.snapshot.message);
          throw new Error('migration failed');
        },
        { message: 'migrating' },
      ),
    ).rejects.toThrow('migration failed');
    expect(during).toEqual(['MAINTENANCE', 'migrating']);
    expect(lc.status).toBe('PAUSED');
    expect(lc.snapshot.message).toBe('paused for billing');
    expect(lc.snapshot.retryAfterSec).toBe(42);

    await lc.set('ACTIVE');
    const result = await lc.withMaintenance(async () => {
      await new Promise((r) => setTimeout(r, 10));
      return lc.status;
    });
    expect(result).toBe('MAINTENANCE');
    expect(lc.status).toBe('ACTIVE');
  });

  it('refuses bad input to set() with ERR_LIFECYCLE_INPUT and leaves the state unchanged', async () => {
    const lc = make();
    await lc.set('MAINTENANCE', { message: 'keep me', retryAfterSec: 10 });
    const bad: Array<[unknown, unknown]> = [
      ['SLEEPING', {}],
      ['maintenance', {}],
      ['OFFLINE', { retryAfterSec: -5 }],
      ['OFFLINE', { retryAfterSec: 1.5 }],
      ['OFFLINE', { message: 'x'.repeat(5000) }],
    ];
    for (const [state, opts] of bad) {
      const err = await lc.set(state as LifecycleState, opts as object).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LifecycleError);
      expect((err as LifecycleError).code).toBe('ERR_LIFECYCLE_INPUT');
    }
    expect(lc.snapshot).toMatchObject({ state: 'MAINTENANCE', message: 'keep me', retryAfterSec: 10 });
  });

  it('decommission() leaves the state alone and is idempotent', async () => {
    const lc = make();
    expect(lc.decommissioned).toBe(false);
    await lc.decommission();
    await lc.decommission();
    expect(lc.decommissioned).toBe(true);
    expect(lc.status).toBe('ACTIVE');
  });

  it('gives sockets a problem per state with code, status and Retry-After', async () => {
    const lc = make({ statusCodes: { PAUSED: 402 } });
    expect(lc.problem()).toBeUndefined();
    const paused = lc.problem('PAUSED');
    expect(paused).toBeInstanceOf(ServiceUnavailableError);
    expect(paused).toMatchObject({ code: 'SERVICE_PAUSED', status: 402, headers: { 'Retry-After': '60' } });
    await lc.set('FAILED', { message: 'db down', retryAfterSec: 5 });
    expect(lc.problem()).toMatchObject({ code: 'SERVICE_FAILED', status: 503, message: 'db down', retryAfterSec: 5 });
    expect(() => lc.gateStep('gated')?.()).toThrow(ServiceUnavailableError);
    expect(lc.gateStep('exempt')).toBeUndefined();
  });

  describe('env source', () => {
    it('reads GATEHOUSE_LIFECYCLE and GATEHOUSE_LIFECYCLE_MESSAGE at start', () => {
      const lc = make({
        source: 'env',
        env: {
          GATEHOUSE_LIFECYCLE: 'maintenance',
          GATEHOUSE_LIFECYCLE_MESSAGE: 'Back at 10:00',
          GATEHOUSE_LIFECYCLE_RETRY_AFTER: '900',
        },
      });
      expect(lc.snapshot).toMatchObject({
        state: 'MAINTENANCE',
        message: 'Back at 10:00',
        retryAfterSec: 900,
        source: 'env',
      });
    });
    it('is ACTIVE without the variable, and set() still works in memory', async () => {
      const lc = make({ source: 'env', env: {} });
      expect(lc.status).toBe('ACTIVE');
      await lc.set('PAUSED');
      expect(lc.status).toBe('PAUSED');
    });
    it('with an unknown state: failMode open stays ACTIVE, failMode closed goes OFFLINE', () => {
      const open = make({ source: 'env', env: { GATEHOUSE_LIFECYCLE: 'NAPPING' } });
      expect(open.snapshot).toMatchObject({ state: 'ACTIVE', sourceFailing: true });
      const closed = make({ source: 'env', env: { GATEHOUSE_LIFECYCLE: 'NAPPING' }, failMode: 'closed' });
      expect(closed.snapshot).toMatchObject({ state: 'OFFLINE', sourceFailing: true });
      expect(closed.problem()?.code).toBe('SERVICE_OFFLINE');
    });
  });

  describe('file source', () => {
    it('follows edits to the watched JSON file and writes set() back to it', async () => {
      const file = join(dir(), 'lifecycle.json');
      const lc = make({ source: 'file', file, pollIntervalMs: 50 });
      expect(lc.status).toBe('ACTIVE'); // no file yet
      const seen: string[] = [];
      lc.onChange((next) => seen.push(next));
      writeFileSync(file, JSON.stringify({ state: 'MAINTENANCE', message: 'from the file', retryAfterSec: 300 }));
      await until(() => lc.status === 'MAINTENANCE', 3000);
      expect(lc.snapshot).toMatchObject({ message: 'from the file', retryAfterSec: 300, source: 'file' });
      await lc.set('PAUSED', { message: 'from set' });
      expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ state: 'PAUSED', message: 'from set' });
      writeFileSync(file, JSON.stringify({ state: 'ACTIVE' }));
      await until(() => lc.status === 'ACTIVE', 3000);
      expect(seen).toEqual(['MAINTENANCE', 'PAUSED', 'ACTIVE']);
    });

    it('failMode open keeps the last good state on a broken file; closed goes OFFLINE and recovers', async () => {
      const d = dir();
      const openFile = join(d, 'open.json');
      const closedFile = join(d, 'closed.json');
      writeFileSync(openFile, JSON.stringify({ state: 'PAUSED' }));
      writeFileSync(closedFile, JSON.stringify({ state: 'PAUSED' }));
      const open = make({ source: 'file', file: openFile, pollIntervalMs: 50 });
      const closed = make({ source: 'file', file: closedFile, pollIntervalMs: 50, failMode: 'closed' });
      expect([open.status, closed.status]).toEqual(['PAUSED', 'PAUSED']);
      writeFileSync(openFile, '{ not json');
      writeFileSync(closedFile, JSON.stringify({ state: 'HIBERNATING' }));
      await until(() => open.snapshot.sourceFailing && closed.status === 'OFFLINE', 3000);
      expect(open.status).toBe('PAUSED');
      expect(closed.snapshot.sourceFailing).toBe(true);
      writeFileSync(closedFile, JSON.stringify({ state: 'ACTIVE' }));
      await until(() => closed.status === 'ACTIVE', 3000);
      expect(closed.snapshot.sourceFailing).toBe(false);
    });
  });

  it('logs each change at the level of the state entered: ACTIVE info, gated states warn, FAILED error', async () => {
    const { logger, lines } = captureLog();
    const lc = make({ logger });
    for (const state of ['PAUSED', 'ACTIVE', 'MAINTENANCE', 'OFFLINE', 'FAILED', 'ACTIVE'] as const)
      await lc.set(state);
    await lc.set('ACTIVE'); // not a change: no line
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [40, 'lifecycle ACTIVE -> PAUSED'],
      [30, 'lifecycle PAUSED -> ACTIVE'],
      [40, 'lifecycle ACTIVE -> MAINTENANCE'],
      [40, 'lifecycle MAINTENANCE -> OFFLINE'],
      [50, 'lifecycle OFFLINE -> FAILED'],
      [30, 'lifecycle FAILED -> ACTIVE'],
    ]);
  });

  it('an asynchronous source whose first read fails follows failMode, with no unhandled rejection', async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown): void => void rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      const { logger, lines } = captureLog();
      let reads = 0;
      const source = {
        name: 'slow-store',
        read: async (): Promise<null> => {
          reads++;
          await new Promise((r) => setTimeout(r, 20));
          throw new Error('store unreachable (connecting)');
        },
        write: (): void => undefined,
      };
      const lc = make({ source, failMode: 'closed', logger });
      await until(() => lc.status === 'OFFLINE', 3000);
      await new Promise((r) => setTimeout(r, 100)); // a dropped rejection would surface by now
      expect(rejections).toEqual([]);
      expect(reads).toBe(1); // the first read is awaited, not repeated
      expect(lc.snapshot.sourceFailing).toBe(true);
      expect(lines.map((l) => l.level)).toEqual([50, 40]); // source failed (error), ACTIVE -> OFFLINE (warn)
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });

  it('logs a failing source at error and its recovery at info', async () => {
    const { logger, lines } = captureLog();
    const file = join(dir(), 'state.json');
    writeFileSync(file, JSON.stringify({ state: 'ACTIVE' }));
    const lc = make({ source: 'file', file, pollIntervalMs: 50, failMode: 'closed', logger });
    writeFileSync(file, '{ not json');
    await until(() => lc.status === 'OFFLINE', 3000);
    writeFileSync(file, JSON.stringify({ state: 'ACTIVE' }));
    await until(() => lc.status === 'ACTIVE', 3000);
    expect(lines.map((l) => [l.level, String(l.msg).split(':')[0]])).toEqual([
      [50, 'LIFECYCLE SOURCE FAILED'],
      [40, 'lifecycle ACTIVE -> OFFLINE'],
      [30, 'lifecycle source recovered'],
      [30, 'lifecycle OFFLINE -> ACTIVE'],
    ]);
  });

  describe('sqlite source', () => {
    it('shares the state between two lifecycles on one dataDir within a second', async () => {
      const d = dir();
      const a = make({ source: 'sqlite', dataDir: d });
      const b = make({ source: 'sqlite', dataDir: d });
      await a.set('MAINTENANCE', { message: 'shared', retryAfterSec: 77 });
      const took = await until(() => b.status === 'MAINTENANCE', 1000);
      expect(took).toBeLessThan(1000);
      expect(b.snapshot).toMatchObject({ message: 'shared', retryAfterSec: 77, source: 'sqlite' });
      expect(b.snapshot.updatedBy).toMatch(/^pid \d+@/);
      await b.set('ACTIVE');
      await until(() => a.status === 'ACTIVE', 1000);
    });

    it('a new lifecycle starts in the stored state', async () => {
      const d = dir();
      const store = new SqliteSource(d);
      store.write({ state: 'OFFLINE', message: 'stored' });
      store.close();
      const lc = make({ source: 'sqlite', dataDir: d });
      expect(lc.snapshot).toMatchObject({ state: 'OFFLINE', message: 'stored' });
    });

    it('refuses to store an invalid record and keeps the stored one', () => {
      const d = dir();
      const store = new SqliteSource(d);
      cleanups.push(() => store.close());
      store.write({ state: 'PAUSED' });
      expect(() => store.write({ state: 'NOPE' as LifecycleState })).toThrow(/unknown lifecycle state/);
      expect(() => store.write({ state: 'OFFLINE', retryAfterSec: -1 })).toThrow(/retryAfterSec/);
      expect(store.read()?.state).toBe('PAUSED');
    });
  });

  it('close() is idempotent and set() after close is refused', async () => {
    const lc = new Lifecycle({ source: 'sqlite', dataDir: dir() });
    await lc.close();
    await lc.close();
    await expect(lc.set('PAUSED')).rejects.toMatchObject({ code: 'ERR_LIFECYCLE_CLOSED' });
  });
});
