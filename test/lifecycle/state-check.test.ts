import { afterEach, describe, expect, it } from 'vitest';
import { LifecycleError, type ServicePortal } from '../../src/index.js';
import { expectThrown, makePortal } from '../helpers.js';
import { captureLog } from './log-capture.js';

interface Started {
  portal: ServicePortal;
  url: (path: string) => string;
  stop: () => Promise<void>;
  lines: Array<Record<string, unknown>>;
}

async function start(): Promise<Started> {
  const { logger, lines } = captureLog();
  const made = makePortal({ logger });
  await made.start();
  return { portal: made.portal, url: made.url, stop: made.stop, lines };
}

async function status(m: Started): Promise<{ status: string; checks: Record<string, Record<string, unknown>> }> {
  const res = await fetch(m.url('/status'));
  expect(res.status).toBe(200);
  return (await res.json()) as { status: string; checks: Record<string, Record<string, unknown>> };
}

describe('push-style status checks', () => {
  let made: Started | undefined;
  afterEach(async () => {
    await made?.stop();
    made = undefined;
  });

  it('shows the pushed state in /status, with extra properties in JSON only', async () => {
    const m = (made = await start());
    m.portal.addCheck('database', () => ({ state: 'OK', detail: 'polled' }));
    const indexer = m.portal.stateCheck('indexer', 'YELLOW', { extra: { detail: 'starting' } });
    expect(indexer.state).toBe('YELLOW');
    let doc = await status(m);
    expect(doc.status).toBe('YELLOW');
    expect(doc.checks).toEqual({
      database: { state: 'OK', detail: 'polled' },
      indexer: { state: 'YELLOW', detail: 'starting' },
    });

    expect(
      indexer.set('OK', { detail: 'caught up', lagMs: 12, shards: [1, 2], source: { kind: 'kafka', partitions: 3 } }),
    ).toBe(true);
    doc = await status(m);
    expect(doc.status).toBe('OK');
    expect(doc.checks.indexer).toEqual({
      state: 'OK',
      detail: 'caught up',
      lagMs: 12,
      shards: [1, 2],
      source: { kind: 'kafka', partitions: 3 },
    });

    const text = await (await fetch(m.url('/status.txt'))).text();
    expect(text).toBe('database OK\nindexer OK\n');
    const prom = await (await fetch(m.url('/status.prometheus'))).text();
    expect(prom).toContain('gatehouse_check_state{name="indexer"} 0\n');
    expect(prom).not.toMatch(/caught up|lagMs|kafka|shards/);

    // New extras replace the old ones; none at all leaves just the state.
    indexer.set('OK');
    expect((await status(m)).checks.indexer).toEqual({ state: 'OK' });
  });

  it('snapshots the extra properties when set', async () => {
    const m = (made = await start());
    const c = m.portal.stateCheck('consumer', 'OK');
    const extra = { detail: 'connected', offsets: { a: 1 } };
    c.set('OK', extra);
    extra.detail = 'changed later';
    extra.offsets.a = 99;
    expect((await status(m)).checks.consumer).toEqual({ state: 'OK', detail: 'connected', offsets: { a: 1 } });
    expect(c.result).toEqual({ state: 'OK', detail: 'connected', offsets: { a: 1 } });
  });

  it('logs each state change once, not repeated sets of the same state', async () => {
    const m = (made = await start());
    const c = m.portal.stateCheck('indexer', 'YELLOW');
    expect(c.set('YELLOW', { detail: 'still behind' })).toBe(false);
    expect(c.set('OK', { detail: 'caught up' })).toBe(true);
    expect(c.set('OK', { detail: 'caught up again' })).toBe(false);
    expect(c.set('OK')).toBe(false);
    expect(c.set('RED', { detail: 'broker gone' })).toBe(true);
    expect(c.set('RED', { detail: 'broker still gone' })).toBe(false);
    expect(c.set('YELLOW')).toBe(true);
    const changes = m.lines.filter(
      (l) => l.check === 'indexer' && typeof l.msg === 'string' && l.msg.startsWith('status check'),
    );
    expect(changes.map((l) => [l.msg, l.level, l.from, l.to, l.detail])).toEqual([
      ['status check indexer YELLOW -> OK', 30, 'YELLOW', 'OK', 'caught up'],
      ['status check indexer OK -> RED', 50, 'OK', 'RED', 'broker gone'],
      ['status check indexer RED -> YELLOW', 40, 'RED', 'YELLOW', undefined],
    ]);
  });

  it('counts a critical pushed check for /ready like a polled one; a non-critical RED only shows in /status', async () => {
    const m = (made = await start());
    const critical = m.portal.stateCheck('indexer', 'OK', { critical: true });
    const optional = m.portal.stateCheck('cache', 'RED');
    let ready = await fetch(m.url('/ready'));
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, lifecycle: 'ACTIVE' });
    expect((await status(m)).status).toBe('RED');

    critical.set('YELLOW');
    expect((await fetch(m.url('/ready'))).status).toBe(200);
    critical.set('RED', { detail: 'index corrupt' });
    ready = await fetch(m.url('/ready'));
    expect(ready.status).toBe(503);
    expect(ready.headers.get('content-type')).toContain('application/problem+json');
    expect((await ready.json()).reasons).toEqual(['check:indexer']);

    critical.set('OK');
    optional.set('OK');
    ready = await fetch(m.url('/ready'));
    expect(ready.status).toBe(200);
    expect((await status(m)).status).toBe('OK');
  });

  it('rejects invalid state names with an error naming the value, leaving the check unchanged', async () => {
    const m = (made = await start());
    const bad = expectThrown(() => m.portal.stateCheck('indexer', 'GREEN' as never), LifecycleError);
    expect(bad.message).toBe('stateCheck indexer: state must be OK, YELLOW or RED, got "GREEN" (use OK for green)');
    expect(bad.code).toBe('ERR_HEALTH_CONFIG');
    // The refused registration left nothing behind: the name is still free.
    const c = m.portal.stateCheck('indexer', 'YELLOW', { extra: { detail: 'warming up' } });

    expect(expectThrown(() => c.set('ok' as never), LifecycleError).message).toBe(
      'stateCheck indexer.set: state must be OK, YELLOW or RED, got "ok"',
    );
    expect(expectThrown(() => c.set(undefined as never), LifecycleError).message).toBe(
      'stateCheck indexer.set: state must be OK, YELLOW or RED, got undefined',
    );
    expect(expectThrown(() => c.set(2 as never), LifecycleError).message).toBe(
      'stateCheck indexer.set: state must be OK, YELLOW or RED, got 2',
    );
    expect(expectThrown(() => c.set('OK', { state: 'RED' } as never), LifecycleError).message).toContain(
      'cannot set "state"',
    );
    expect(expectThrown(() => c.set('OK', { detail: 5 } as never), LifecycleError).message).toBe(
      'stateCheck indexer: detail must be a string, got number',
    );
    expect(expectThrown(() => c.set('OK', { hook: (() => 1) as never }), LifecycleError).message).toContain(
      'must be plain JSON',
    );
    expect(expectThrown(() => c.set('OK', [] as never), LifecycleError).message).toContain(
      'must be an object, got an array',
    );

    expect(c.state).toBe('YELLOW');
    expect((await status(m)).checks.indexer).toEqual({ state: 'YELLOW', detail: 'warming up' });
    expect(m.lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('status check indexer'))).toEqual([]);
  });

  it('refuses a name already used by a polled or pushed check, and bad names', async () => {
    const m = (made = await start());
    m.portal.addCheck('database', () => 'OK');
    m.portal.stateCheck('indexer', 'OK');
    expect(expectThrown(() => m.portal.stateCheck('database', 'RED'), LifecycleError).message).toBe(
      'stateCheck: a polled check named database already exists',
    );
    expect(expectThrown(() => m.portal.addCheck('indexer', () => 'RED'), LifecycleError).message).toBe(
      'addCheck: a push-style check named indexer already exists',
    );
    expect(expectThrown(() => m.portal.stateCheck('indexer', 'RED'), LifecycleError).message).toBe(
      'stateCheck: a push-style check named indexer already exists',
    );
    expect(expectThrown(() => m.portal.stateCheck('bad name', 'OK'), LifecycleError).message).toContain(
      'stateCheck: name must match',
    );
    expect((await status(m)).checks).toEqual({ database: { state: 'OK' }, indexer: { state: 'OK' } });
  });
});
