// The API.md examples, written the way the contract shows them, against real parts: if one of these breaks, a
// user's code that follows the documentation breaks too.
import { join } from 'node:path';
import { io as connect } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Database,
  DatabaseBuffer,
  EnforcementError,
  HttpError,
  Interceptors,
  PersistentQueue,
  RequestConfig,
  ServicePortal,
  TaskBuffer,
  createClient,
  enforce,
  sendRequest,
  z,
} from '../src/index.js';
import { TEST_SECRET, tempDir } from './helpers.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function dataDir(): string {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  return dir;
}

describe('API.md contract', () => {
  it('1-2: portal, endpoint, express fallback with portal.gate, tokens, revocation, masking', async () => {
    const portal = new ServicePortal({
      overload: false, // client and server share this busy test process
      name: 'notes',
      dataDir: dataDir(),
      auth: {
        secret: TEST_SECRET,
        issuer: 'notes',
        audience: 'notes-api',
        accessTtl: '15m',
        clockToleranceSec: 30,
        apiKeys: { 'svc-reporting': { key: 'reporting-key-0123456789', scopes: ['reports:read'] } },
        basic: async (user, pass) => (pass === 'pw' ? { id: user, scopes: [] } : null),
      },
      cors: { origins: ['https://app.example.com'], credentials: true },
      websocket: true,
      trustProxy: false,
      bodyLimit: '100kb',
      requestLog: false,
    });
    cleanups.push(() => portal.close());
    portal.endpoint(
      '/api/greet',
      {
        method: 'POST',
        description: 'Greets someone',
        gate: { auth: 'none' },
        input: z.object({ name: z.string().min(1) }),
        output: z.object({ message: z.string() }),
      },
      async ({ input }) => ({ message: `Hello, ${input.name}!` }),
    );
    portal.endpoint(
      '/api/notes/:id',
      { method: 'GET', description: 'A note', input: z.object({ id: z.string() }) },
      () => {
        throw new HttpError(404, 'Note not found', { code: 'NOTE_NOT_FOUND' });
      },
    );
    portal.endpoint(
      '/api/login',
      {
        description: 'Login',
        gate: { auth: 'none', payloadAuthTokenKey: 'userId' },
        input: z.object({}),
        output: z.object({ userId: z.string(), scopes: z.array(z.string()) }),
      },
      () => ({ userId: '42', scopes: ['notes:write'] }),
    );
    portal.app.get('/legacy', portal.gate({ auth: 'apiKey' }), (_req, res) => res.send('ok'));
    await portal.run({ port: 0, host: '127.0.0.1' });
    expect(portal.port).toBeGreaterThan(0);
    const base = `http://127.0.0.1:${portal.port}`;

    const greet = await fetch(`${base}/api/greet`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"name":"Ann"}',
    });
    expect(await greet.json()).toEqual({ message: 'Hello, Ann!' });
    const missing = await fetch(`${base}/api/notes/7`, {
      headers: { authorization: `Bearer ${await portal.tokens.issue({ sub: '42' })}` },
    });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({
      type: expect.any(String),
      title: 'Not Found',
      status: 404,
      detail: 'Note not found',
      code: 'NOTE_NOT_FOUND',
    });
    expect((await fetch(`${base}/legacy`, { headers: { 'x-api-key': 'reporting-key-0123456789' } })).status).toBe(200);
    expect((await fetch(`${base}/legacy`)).status).toBe(401);

    const token = await portal.tokens.issue({ sub: '42', scopes: ['notes:write'], ttl: '15m' });
    expect(await portal.tokens.verify(token)).toMatchObject({ id: '42', scopes: ['notes:write'], via: 'bearer' });
    await portal.revokeToken(token);
    await expect(portal.tokens.verify(token)).rejects.toMatchObject({ name: 'AuthError', code: 'ERR_AUTH_REVOKED' });
    const login = await (
      await fetch(`${base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    ).json();
    expect((await portal.tokens.verify(login.userId)).id).toBe('42');
    expect(typeof (await (await fetch(`${base}/openapi.json`)).json()).paths['/api/greet'].post).toBe('object');
  });

  it('3: onEvent with the contract example, sendToUser, sendToGroup, broadcast, leaveGroup', async () => {
    const portal = new ServicePortal({
      overload: false, // client and server share this busy test process
      dataDir: dataDir(),
      auth: { secret: TEST_SECRET },
      websocket: true,
      requestLog: false,
    });
    cleanups.push(() => portal.close());
    portal.onEvent(
      'join_team',
      { gate: { auth: 'bearer' }, input: z.object({ teamId: z.string() }) },
      async ({ input, socket }) => {
        await portal.joinGroup(socket, input.teamId);
        return { status: 'success' };
      },
    );
    await portal.run({ port: 0 });
    const socket = connect(`http://127.0.0.1:${portal.port}`, {
      auth: { token: await portal.tokens.issue({ sub: '42' }) },
      transports: ['websocket'],
      reconnection: false,
    });
    cleanups.push(() => socket.close());
    await new Promise<void>((resolve, reject) => socket.once('connect', () => resolve()).once('connect_error', reject));
    const got: string[] = [];
    for (const e of ['notification', 'team_update', 'announcement']) socket.on(e, () => got.push(e));
    expect(await socket.emitWithAck('join_team', { teamId: 'team-7' })).toEqual({ status: 'success' });
    await portal.sendToUser('42', 'notification', { text: 'hi' });
    await portal.sendToGroup('team-7', 'team_update', { n: 1 });
    await portal.broadcast('announcement', { n: 2 });
    for (let i = 0; i < 50 && got.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    expect(got.sort()).toEqual(['announcement', 'notification', 'team_update']);
    await portal.leaveGroup('42', 'team-7');
    expect(await portal.groupMembers('team-7')).toEqual([]);
  });

  it('4: Database as in the example', async () => {
    const db = new Database({
      path: join(dataDir(), 'app.db'),
      tables: { users: 'id INTEGER PRIMARY KEY, name TEXT, meta JSON' },
    });
    cleanups.push(() => db.close());
    db.insert('users', [{ id: 1, name: 'Alice', meta: { role: 'admin' } }]);
    expect(db.fetch('users', { columns: ['name', 'meta::role as role'], where: { id: 1 } })).toEqual([
      { name: 'Alice', role: 'admin' },
    ]);
    db.update('users', { name: 'Bob' }, { id: 1 });
    expect(db.query('SELECT name FROM users WHERE id = ?', [1])).toEqual([{ name: 'Bob' }]);
    db.transaction(() => db.execute('UPDATE users SET name = ? WHERE id = ?', ['Carl', 1]));
    db.delete('users', { id: 1 });
    expect(db.fetch('users')).toEqual([]);
  });

  it('5: PersistentQueue, TaskBuffer and DatabaseBuffer as in the example', async () => {
    const dir = dataDir();
    const queue = new PersistentQueue({ name: 'email_tasks', dataDir: dir });
    cleanups.push(() => queue.close());
    const id = queue.push({ payload: { to: 'a@b.c' }, priority: 10, delayMs: 0 });
    const job = queue.pop({ leaseMs: 30_000 });
    expect(job).toMatchObject({ id, payload: { to: 'a@b.c' }, attempts: 1 });
    queue.complete(job!.id);
    expect(queue.stats()).toMatchObject({ pending: 0, active: 0, done: 1, failed: 0, dead: 0 });

    const sent: unknown[] = [];
    const tasks = new TaskBuffer({
      dataDir: dir,
      handlers: { SEND_EMAIL: async (data) => void sent.push(data) },
      workers: 5,
      maxAttempts: 5,
      leaseMs: 30_000,
      backoff: { type: 'exponential', delayMs: 1000, maxDelayMs: 60_000, jitter: true },
      timeoutMs: 30_000,
      onError: () => {},
    });
    tasks.start();
    cleanups.push(() => tasks.stop({ timeoutMs: 1000 }));
    const taskId = tasks.push('SEND_EMAIL', { to: 'user@example.com' }, { priority: 1, dedupeKey: 'welcome' });
    expect(typeof taskId).toBe('number');
    // The handler runs before its completion is committed (completions of one tick share a transaction): wait for both.
    for (let i = 0; i < 100 && tasks.stats().done === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(sent).toEqual([{ to: 'user@example.com' }]);
    expect(tasks.stats()).toMatchObject({ done: 1, dead: 0 });
    expect(tasks.deadLetters()).toEqual([]);

    const main = join(dir, 'app.db');
    const db = new Database({ path: main, tables: { users: 'id INTEGER PRIMARY KEY, name TEXT' } });
    cleanups.push(() => db.close());
    const writes = new DatabaseBuffer({ mainDb: main, dataDir: dir });
    writes.start();
    writes.insert('users', [{ name: 'Alice' }]);
    writes.update('users', { name: 'B' }, { id: 1 });
    await writes.flush();
    await writes.stop();
    expect(db.fetch('users')).toEqual([{ id: 1, name: 'B' }]);
  });

  it('6: lifecycle set, onChange, withMaintenance, decommission, checks and fields', async () => {
    const portal = new ServicePortal({
      dataDir: dataDir(),
      auth: { secret: TEST_SECRET },
      requestLog: false,
      overload: false,
    });
    cleanups.push(() => portal.close());
    portal.endpoint('/api/x', { method: 'GET', description: 'x', gate: { auth: 'none' }, input: z.object({}) }, () => ({
      ok: true,
    }));
    portal.addCheck('database', () => ({ state: 'OK' }), { critical: true, timeoutMs: 500 });
    portal.addStatusField('version', '1.2.3');
    const changes: string[] = [];
    portal.lifecycle.onChange((next, prev) => changes.push(`${prev}->${next}`));
    await portal.run({ port: 0, handleSignals: false });
    const base = `http://127.0.0.1:${portal.port}`;
    await portal.lifecycle.set('MAINTENANCE', { message: 'Back at 10:00', retryAfterSec: 600 });
    expect(portal.lifecycle.status).toBe('MAINTENANCE');
    const gated = await fetch(`${base}/api/x`);
    expect(gated.status).toBe(503);
    expect(gated.headers.get('retry-after')).toBe('600');
    expect(await gated.json()).toMatchObject({ code: 'SERVICE_MAINTENANCE', detail: 'Back at 10:00' });
    expect((await fetch(`${base}/health`)).status).toBe(200);
    await portal.lifecycle.set('ACTIVE');
    await expect(
      portal.lifecycle.withMaintenance(async () => Promise.reject(new Error('migration failed'))),
    ).rejects.toThrow('migration failed');
    expect(portal.lifecycle.status).toBe('ACTIVE');
    const status = await (await fetch(`${base}/status`)).json();
    expect(status).toMatchObject({ lifecycle: 'ACTIVE', checks: { database: { state: 'OK' } }, version: '1.2.3' });
    expect(await (await fetch(`${base}/status.prometheus`)).text()).toContain(
      'gatehouse_check_state{name="database"} 0',
    );
    await portal.lifecycle.decommission();
    expect((await fetch(`${base}/ready`)).status).toBe(503);
    expect(changes).toEqual([
      'ACTIVE->MAINTENANCE',
      'MAINTENANCE->ACTIVE',
      'ACTIVE->MAINTENANCE',
      'MAINTENANCE->ACTIVE',
    ]);
  });

  it('7: sendRequest never rejects; RequestConfig, Interceptors and createClient', async () => {
    const saved = RequestConfig.maxRetries;
    RequestConfig.maxRetries = 0;
    const remove = Interceptors.addRequestHook((req) => req);
    try {
      const res = await sendRequest({ method: 'GET', endpoint: 'http://127.0.0.1:1/external-data', timeoutMs: 500 });
      expect(res.ok).toBe(false);
      expect(res.error?.code).toBe('NETWORK');
      expect(res.toJSON()).toMatchObject({ ok: false });
      const bad = await sendRequest({ method: 'NOPE' as never, endpoint: '/x' });
      expect(bad.error?.code).toBe('BAD_REQUEST');
    } finally {
      RequestConfig.maxRetries = saved;
      if (typeof remove === 'function') remove();
    }
    const api = createClient({ baseUrl: 'http://127.0.0.1:1', headers: { 'x-a': 'b' }, maxRetries: 0 });
    cleanups.push(() => api.close());
    expect((await api.sendRequest({ method: 'GET', endpoint: '/x' })).error?.code).toBe('NETWORK');
  });

  it('8: enforce as in the example', () => {
    enforce.configure({ mode: 'strict' });
    try {
      const createUser = enforce(
        {
          description: 'Creates a new user record',
          args: [z.string().min(1), z.number().int().nonnegative()],
          returns: z.object({ name: z.string(), age: z.number() }),
        },
        (name: string, age: number) => ({ name, age }),
      );
      expect(createUser('Ann', 3)).toEqual({ name: 'Ann', age: 3 });
      expect(() => createUser('Ann', -1)).toThrow(EnforcementError);
      try {
        createUser('Ann', -1);
      } catch (err) {
        expect(err).toMatchObject({ code: 'ERR_ENFORCE_ARGS', path: [1] });
      }
    } finally {
      enforce.configure({});
    }
  });
});
