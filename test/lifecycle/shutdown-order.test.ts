// Shutdown order through a real server and a real socket.io client: stop accepting, drain in-flight requests
// while socket delivery and onClose resources still work, then onClose hooks, realtime, stores.
import { get } from 'node:http';
import { join } from 'node:path';
import { io as ioClient, type Socket as ClientSocket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { TaskBuffer } from '../../src/buffers/index.js';
import { makePortal } from '../helpers.js';

/** A GET on a fresh connection: status and body, or the connection error code. */
function request(port: number, path: string): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
  });
}

/** A promise with its resolve function, to hold a handler until the test lets it go. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 3000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('ServicePortal shutdown order', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  it('lets an in-flight request deliver to a socket with sendToUser while close() drains', async () => {
    const fixture = makePortal({ websocket: true });
    cleanups.push(fixture.stop);
    const { portal } = fixture;
    const held = gate();
    let entered = false;
    portal.endpoint('/api/notify', { method: 'GET', gate: { auth: 'none' } }, async () => {
      entered = true;
      await held.wait;
      await portal.sendToUser('u1', 'notice', { text: 'sent during shutdown' });
      return { delivered: true };
    });
    await fixture.start();
    const port = portal.port;
    const token = await portal.tokens.issue({ sub: 'u1', scopes: [] });
    const client: ClientSocket = ioClient(`http://127.0.0.1:${port}`, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      auth: { token },
    });
    cleanups.push(() => client.disconnect());
    const received: unknown[] = [];
    client.on('notice', (p: unknown) => received.push(p));
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('connect_error', reject);
    });

    const response = request(port, '/api/notify');
    await until(() => entered, 'the handler to start');
    let closed = false;
    const closing = portal.close({ timeoutMs: 5000 }).then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(closed).toBe(false); // still draining: the request holds it open
    expect(client.connected).toBe(true); // and the socket is still up
    held.open();

    expect(await response).toEqual({ status: 200, body: JSON.stringify({ delivered: true }) });
    await until(() => received.length === 1, 'the socket message');
    expect(received).toEqual([{ text: 'sent during shutdown' }]);
    await closing;
    expect(closed).toBe(true);
    await until(() => !client.connected, 'the socket to be disconnected by close()');
  });

  it('lets an in-flight request push into a TaskBuffer registered with onClose, and the job is kept', async () => {
    const fixture = makePortal();
    cleanups.push(fixture.stop);
    const { portal, dir } = fixture;
    const file = join(dir, 'queues.db');
    // Not started: a pushed job stays pending in the file, so "not lost" is a count we can read back.
    const tasks = new TaskBuffer({ file, handlers: { NOTE: (data: { id: number }) => data.id } });
    portal.onClose(() => tasks.stop({ timeoutMs: 2000 }));
    const held = gate();
    let entered = false;
    portal.endpoint('/api/push', { method: 'GET', gate: { auth: 'none' } }, async () => {
      entered = true;
      await held.wait;
      return { job: tasks.push('NOTE', { id: 7 }) };
    });
    await fixture.start();

    const response = request(portal.port, '/api/push');
    await until(() => entered, 'the handler to start');
    const closing = portal.close({ timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 100));
    held.open();
    const answer = await response;
    expect(answer).toMatchObject({ status: 200 });
    expect(JSON.parse((answer as { body: string }).body)).toEqual({ job: expect.any(Number) });
    await closing;

    const reopened = new TaskBuffer({ file, handlers: { NOTE: (data: { id: number }) => data.id } });
    cleanups.push(() => reopened.stop());
    expect(reopened.stats()).toMatchObject({ pending: 1, active: 0, dead: 0 });
  });

  it('runs every shutdown step even when an onClose hook throws', async () => {
    const fixture = makePortal({ websocket: true });
    cleanups.push(fixture.stop);
    const { portal } = fixture;
    portal.endpoint('/api/ping', { method: 'GET', gate: { auth: 'none' } }, () => ({ pong: true }));
    await fixture.start();
    const port = portal.port;
    const ran: string[] = [];
    portal.onClose(() => void ran.push('first registered'));
    portal.onClose(() => {
      throw new Error('a broken hook');
    });
    portal.onClose(async () => {
      // Hooks run before realtime closes: delivery still works here.
      ran.push(
        await portal.broadcast('bye').then(
          () => 'last registered: broadcast delivered',
          (err: Error) => `last registered: ${err.message}`,
        ),
      );
    });

    await portal.close({ timeoutMs: 2000 });
    expect(ran).toEqual(['last registered: broadcast delivered', 'first registered']);
    expect(await request(port, '/api/ping')).toEqual({ error: 'ECONNREFUSED' });
    // Realtime closed after the hooks: delivery is refused now.
    await expect(portal.broadcast('late')).rejects.toMatchObject({ code: 'ERR_REALTIME_CLOSED' });
  });
});
