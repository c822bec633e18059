import { get } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { makePortal } from '../helpers.js';
import { startChild, type Child } from './processes.js';
import { tempDir } from '../helpers.js';

/** One request on a fresh connection: the status, or the connection error code. */
function probe(port: number, path: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path, agent: false, headers: { connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'ERROR'));
  });
}

function slowRequest(port: number): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/api/slow', agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
  });
}

describe('graceful shutdown', () => {
  const dirs: Array<() => void> = [];
  let child: Child | undefined;
  afterEach(async () => {
    if (child && child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGKILL');
    await child?.exited;
    child = undefined;
    for (const d of dirs.splice(0)) d();
  });
  function dataDir(): string {
    const d = tempDir('gatehouse-shutdown-');
    dirs.push(d.cleanup);
    return d.dir;
  }

  it('on SIGTERM: /ready drops to 503, the in-flight 2 s request completes with 200, new connections are refused, exit 0', async () => {
    child = await startChild({ DATA_DIR: dataDir(), DRAIN_DELAY_MS: '700', SLOW_MS: '2000' });
    const port = child.port;
    expect(await probe(port, '/ready')).toBe(200);
    const slow = slowRequest(port);
    await child.waitFor('SLOW_STARTED');
    child.proc.kill('SIGTERM');
    let slowDone = false;
    void slow.then(() => (slowDone = true));

    // During the drain delay the server still answers, with readiness down.
    const readyDuringDrain = await (async () => {
      for (let i = 0; i < 20; i++) {
        const s = await probe(port, '/ready');
        if (s === 503) return s;
        await new Promise((r) => setTimeout(r, 25));
      }
      return probe(port, '/ready');
    })();
    expect(readyDuringDrain).toBe(503);
    expect(await probe(port, '/health')).toBe(200);

    // Then it stops accepting while the slow request is still running.
    let refused: number | string = 0;
    for (let i = 0; i < 100 && !slowDone; i++) {
      refused = await probe(port, '/health');
      if (refused === 'ECONNREFUSED') break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(refused).toBe('ECONNREFUSED');
    expect(slowDone).toBe(false);

    const result = await slow;
    expect(result).toEqual({ status: 200, body: '{"done":true}' });
    const exit = await child.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(child.lines).toContain('CLOSABLE_CLOSED');
  });

  it('a second signal while draining forces exit', async () => {
    child = await startChild({ DATA_DIR: dataDir(), DRAIN_DELAY_MS: '0', SLOW_MS: '15000' });
    const slow = slowRequest(child.port);
    await child.waitFor('SLOW_STARTED');
    const started = Date.now();
    child.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    expect(child.proc.exitCode).toBeNull(); // still draining the 15 s request
    child.proc.kill('SIGTERM');
    const exit = await child.exited;
    expect(exit.code).toBe(143);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await slow).toHaveProperty('error');
    expect(child.lines).not.toContain('CLOSABLE_CLOSED');
  });

  it('run({ handleSignals: false }) installs no handlers; close() removes the ones run() installed', async () => {
    const before = [process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')];
    const a = makePortal();
    await a.portal.run({ port: 0, handleSignals: false });
    expect([process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')]).toEqual(before);
    await a.stop();
    const b = makePortal();
    await b.portal.run({ port: 0 });
    expect([process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')]).toEqual([
      before[0]! + 1,
      before[1]! + 1,
    ]);
    await b.stop();
    expect([process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')]).toEqual(before);
  });

  it('close() runs registered closables in reverse order, after the server drained, and only once', async () => {
    const m = makePortal();
    const order: string[] = [];
    m.portal.onClose(() => void order.push('database'));
    m.portal.onClose(async () => {
      await new Promise((r) => setTimeout(r, 10));
      order.push('buffer');
    });
    const off = m.portal.onClose(() => void order.push('never'));
    off();
    m.portal.onClose(() => {
      throw new Error('a closable that fails does not stop the others');
    });
    m.portal.onClose(() => void order.push('sockets'));
    await m.start();
    await Promise.all([m.portal.close(), m.portal.close()]);
    await m.stop();
    expect(order).toEqual(['sockets', 'buffer', 'database']);
    expect(m.portal.lifecycle.decommissioned).toBe(true);
  });
});
