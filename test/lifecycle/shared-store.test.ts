import { afterEach, describe, expect, it } from 'vitest';
import { z, SqliteSource, type ServicePortal } from '../../src/index.js';
import { makePortal } from '../helpers.js';
import { runCli, startChild, type Child } from './processes.js';

async function statusOf(url: string): Promise<number> {
  return (await fetch(url)).status;
}

async function within(ms: number, cond: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (!(await cond())) {
    if (Date.now() - started > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return Date.now() - started;
}

describe('SQLite lifecycle store shared by processes, and the gatehouse lifecycle CLI', () => {
  let child: Child | undefined;
  let stop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    child?.proc.kill('SIGKILL');
    await child?.exited;
    child = undefined;
    await stop?.();
    stop = undefined;
  });

  async function parentPortal(): Promise<{ portal: ServicePortal; dir: string; url: (p: string) => string }> {
    const made = makePortal({ lifecycle: { source: 'sqlite' } });
    stop = made.stop;
    made.portal.endpoint(
      '/api/fast',
      { method: 'GET', description: 'test route', input: z.object({}), gate: { auth: 'none' } },
      () => ({ fast: true }),
    );
    await made.start();
    return { portal: made.portal, dir: made.dir, url: made.url };
  }

  it('`gatehouse lifecycle set MAINTENANCE` gates two portal processes within 1 s, and `set ACTIVE` releases both', async () => {
    const parent = await parentPortal();
    child = await startChild({ DATA_DIR: parent.dir, SOURCE: 'sqlite' });
    const childUrl = `http://127.0.0.1:${child.port}/api/fast`;
    expect(await statusOf(parent.url('/api/fast'))).toBe(200);
    expect(await statusOf(childUrl)).toBe(200);

    const set = await runCli([
      'lifecycle',
      'set',
      'MAINTENANCE',
      '--message',
      'Back at 10:00',
      '--retry-after',
      '600',
      '--data-dir',
      parent.dir,
    ]);
    expect(set.stderr).toBe('');
    expect(set.code).toBe(0);
    // The CLI process has exited: measure from now.
    const [tookParent, tookChild] = await Promise.all([
      within(1000, async () => (await statusOf(parent.url('/api/fast'))) === 503),
      within(1000, async () => (await statusOf(childUrl)) === 503),
    ]);
    expect(tookParent).toBeLessThan(1000);
    expect(tookChild).toBeLessThan(1000);
    const gated = await fetch(childUrl);
    expect(gated.headers.get('retry-after')).toBe('600');
    expect(await gated.json()).toMatchObject({ code: 'SERVICE_MAINTENANCE', detail: 'Back at 10:00' });
    expect(parent.portal.lifecycle.snapshot.updatedBy).toMatch(/^cli pid \d+$/);

    const status = await runCli(['lifecycle', 'status', '--json', '--data-dir', parent.dir]);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      state: 'MAINTENANCE',
      message: 'Back at 10:00',
      retryAfterSec: 600,
    });

    expect((await runCli(['lifecycle', 'set', 'ACTIVE', '--data-dir', parent.dir])).code).toBe(0);
    await within(1000, async () => (await statusOf(parent.url('/api/fast'))) === 200);
    await within(1000, async () => (await statusOf(childUrl)) === 200);
  });

  it('a change through one portal gates the other process', async () => {
    const parent = await parentPortal();
    child = await startChild({ DATA_DIR: parent.dir, SOURCE: 'sqlite' });
    await parent.portal.lifecycle.set('PAUSED', { retryAfterSec: 5 });
    await within(1000, async () => (await statusOf(`http://127.0.0.1:${child!.port}/api/fast`)) === 503);
    const res = await fetch(`http://127.0.0.1:${child.port}/api/fast`);
    expect((await res.json()).code).toBe('SERVICE_PAUSED');
  });

  it('refuses bad CLI input with a clear error and exit 2, leaving the stored state unchanged', async () => {
    const parent = await parentPortal();
    await parent.portal.lifecycle.set('PAUSED', { message: 'keep me', retryAfterSec: 9 });
    const cases: Array<[string[], RegExp]> = [
      [['lifecycle', 'set', 'SLEEPING', '--data-dir', parent.dir], /unknown lifecycle state "SLEEPING"/],
      [
        ['lifecycle', 'set', 'OFFLINE', '--retry-after', '-5', '--data-dir', parent.dir],
        /--retry-after must be a whole number/,
      ],
      [
        ['lifecycle', 'set', 'OFFLINE', '--retry-after', 'soon', '--data-dir', parent.dir],
        /--retry-after must be a whole number/,
      ],
      [['lifecycle', 'set', '--data-dir', parent.dir], /set needs a STATE/],
      [['lifecycle', 'set', 'OFFLINE', '--bogus', '--data-dir', parent.dir], /unknown option --bogus/],
      [['lifecycle', 'frobnicate', '--data-dir', parent.dir], /unknown action frobnicate/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toContain('Usage:');
    }
    const store = new SqliteSource(parent.dir);
    try {
      expect(store.read()).toMatchObject({ state: 'PAUSED', message: 'keep me', retryAfterSec: 9 });
    } finally {
      store.close();
    }
    expect(parent.portal.lifecycle.status).toBe('PAUSED');
  });
});
