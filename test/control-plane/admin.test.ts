import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlPlane, type ControlPlaneOptions } from '../../src/control-plane/index.js';
import { tempDir } from '../helpers.js';
import { PxClient } from './px-client.js';

const ADMIN = 'admin-token-for-tests-0123456789';

describe('ControlPlane admin API', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function start(options: ControlPlaneOptions = {}): Promise<{
    cp: ControlPlane;
    base: string;
    call: (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<Response>;
  }> {
    const { dir, cleanup } = tempDir('gatehouse-cp-admin-');
    const cp = new ControlPlane({ dataDir: dir, adminToken: ADMIN, ...options });
    cleanups.push(cleanup, () => cp.close());
    await cp.run({ port: 0, handleSignals: false });
    const base = `http://127.0.0.1:${cp.port}`;
    const call = (
      method: string,
      path: string,
      body?: unknown,
      headers: Record<string, string> = { authorization: `Bearer ${ADMIN}` },
    ): Promise<Response> =>
      fetch(`${base}${path}`, {
        method,
        headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
    return { cp, base, call };
  }

  it('answers 401 problem+json with a Bearer challenge without the admin token or with a wrong one, and changes nothing', async () => {
    // 16 bad tokens from one address: throttling (test/hardening/admin-throttle.test.ts) is moved out of the way.
    const { cp, call } = await start({ adminThrottle: { slowAfter: 100, lockAfter: 100 } });
    await cp.createProject({ name: 'notes' });
    const attempts: Array<Record<string, string>> = [
      {},
      { authorization: 'Bearer wrong-token-0123456789abcdef' },
      { authorization: `Basic ${ADMIN}` },
      { authorization: `Bearer ${ADMIN}x` },
      { authorization: 'Bearer' },
    ];
    for (const headers of attempts) {
      const create = await call('POST', '/api/admin/projects', { name: 'intruder' }, headers);
      expect(create.status).toBe(401);
      expect(create.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(create.headers.get('www-authenticate')).toMatch(/^Bearer /);
      expect(await create.json()).toMatchObject({ status: 401, code: 'ERR_CONTROL_ADMIN_AUTH' });
      expect((await call('POST', '/api/admin/projects/notes/status', { state: 'FAILED' }, headers)).status).toBe(401);
      expect((await call('DELETE', '/api/admin/projects/notes', undefined, headers)).status).toBe(401);
      expect((await call('GET', '/api/admin/events', undefined, headers)).status).toBe(401);
    }
    // Authentication comes before the body is read: a malformed body without the token is still a 401.
    expect((await call('POST', '/api/admin/projects', '{not json', {})).status).toBe(401);
    expect(cp.projects().map((p) => [p.name, p.state])).toEqual([['notes', 'ACTIVE']]);
    expect((await cp.auditLog()).filter((e) => !e.action.startsWith('admin.')).map((e) => e.action)).toEqual([
      'project.create',
    ]);
  });

  it('refuses the admin API without the token under every spelling the router accepts (escapes, absolute-form URLs)', async () => {
    const { cp } = await start();
    await cp.createProject({ name: 'notes' });
    const raw = (method: string, path: string, body?: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: cp.port,
            method,
            path,
            headers: body ? { 'content-type': 'application/json' } : {},
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    const spellings = [
      '/api/admin/projects',
      '/api/%61dmin/projects',
      '/api/%61%64%6d%69%6e/projects',
      `http://127.0.0.1:${cp.port}/api/admin/projects`,
      'http://example.com/api/%61dmin/projects',
      '/api/admin/projects/',
      '/api/admin/projects?x=1',
      '/API/admin/projects',
      '//api/admin/projects',
      '/api/admin%2Fprojects',
      '/api/%E0%A4%A/projects',
    ];
    for (const path of spellings) {
      expect([401, 404], `GET ${path}`).toContain(await raw('GET', path));
      expect([401, 404], `POST ${path}`).toContain(await raw('POST', path, JSON.stringify({ name: 'sneaky' })));
      expect([401, 404], `status ${path}`).toContain(
        await raw('POST', `${path.replace(/\?.*$/, '')}/notes/status`, JSON.stringify({ state: 'FAILED' })),
      );
    }
    expect(cp.projects().map((p) => [p.name, p.state])).toEqual([['notes', 'ACTIVE']]);
    expect((await cp.auditLog()).map((e) => e.action)).toEqual(['project.create']);
  });

  it('answers malformed and invalid bodies with 400 problems and changes nothing', async () => {
    const { cp, call } = await start();
    await cp.createProject({ name: 'notes' });
    await cp.setStatus('notes', 'PAUSED', { message: 'Invoice due' });
    const before = cp.project('notes');
    const bad: Array<[string, string, unknown]> = [
      ['POST', '/api/admin/projects/notes/status', '{"state": "ACTIVE"'],
      ['POST', '/api/admin/projects/notes/status', { state: 'SLEEPING' }],
      ['POST', '/api/admin/projects/notes/status', { state: 'ACTIVE', retryAfterSec: -5 }],
      ['POST', '/api/admin/projects/notes/status', { state: 'ACTIVE', message: 'x'.repeat(1001) }],
      ['POST', '/api/admin/projects/notes/status', { state: 'ACTIVE', extra: true }],
      ['POST', '/api/admin/projects/notes/status', '[1,2]'],
      ['POST', '/api/admin/projects/notes/fail-mode', { failMode: 'sideways' }],
      ['POST', '/api/admin/projects', { name: '../../etc/passwd' }],
      ['POST', '/api/admin/projects', { name: 'ok', failMode: 'maybe' }],
      ['POST', '/api/admin/projects', {}],
      ['POST', '/api/admin/tokens/revoke', { token: 'not-a-token' }],
    ];
    for (const [method, path, body] of bad) {
      const res = await call(method, path, body);
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const problem = (await res.json()) as { status: number; code: string };
      expect(problem.status).toBe(400);
    }
    expect(cp.projects().map((p) => p.name)).toEqual(['notes']);
    const after = cp.project('notes');
    expect(after).toMatchObject({
      state: 'PAUSED',
      pauseMessage: 'Invoice due',
      failMode: 'closed',
      updatedAt: before!.updatedAt,
    });
    expect(after!.tokens).toEqual(before!.tokens);
    expect((await cp.auditLog()).map((e) => e.action)).toEqual(['status', 'project.create']);
  });

  it('creates, lists, changes, rotates, revokes and deletes projects, with an audit entry for each change', async () => {
    const { cp, base, call } = await start();
    const created = await call('POST', '/api/admin/projects', { name: 'notes', failMode: 'open' });
    expect(created.status).toBe(201);
    const { token } = (await created.json()) as { token: string };
    expect(token).toMatch(/^px_/);
    expect((await call('POST', '/api/admin/projects', { name: 'notes' })).status).toBe(409);

    const client = await PxClient.connect(base, token);
    cleanups.push(() => client.close());
    await client.status('ACTIVE');
    client.heartbeat({ env: 'production' });

    const status = await call('POST', '/api/admin/projects/notes/status', {
      state: 'MAINTENANCE',
      message: 'Back at 10:00',
      retryAfterSec: 600,
    });
    expect(status.status).toBe(200);
    expect(await status.json()).toMatchObject({
      name: 'notes',
      state: 'MAINTENANCE',
      maintenanceMessage: 'Back at 10:00',
      retryAfterSec: 600,
      wire: { status: 'PAUSED', gatehouse_status: 'MAINTENANCE' },
    });
    expect(await client.next((f) => f.gatehouse_status === 'MAINTENANCE')).toMatchObject({
      status: 'PAUSED',
      pause_message: 'Back at 10:00',
    });

    expect((await call('POST', '/api/admin/projects/notes/fail-mode', { failMode: 'closed' })).status).toBe(200);
    expect(await client.next((f) => f.type === 'status' && f.fail_mode === 'closed')).toBeTruthy();

    const list = (await (await call('GET', '/api/admin/projects')).json()) as {
      projects: Array<{
        name: string;
        failMode: string;
        tokens: Array<{ hint: string }>;
        instances: Array<{ env: string }>;
      }>;
    };
    expect(list.projects).toHaveLength(1);
    expect(list.projects[0]).toMatchObject({ name: 'notes', failMode: 'closed' });
    expect(JSON.stringify(list)).not.toContain(token);
    await expect
      .poll(
        async () =>
          (
            (await (await call('GET', '/api/admin/projects/notes/instances')).json()) as {
              instances: Array<{ env: string }>;
            }
          ).instances[0]?.env,
      )
      .toBe('production');

    expect((await call('GET', '/api/admin/projects/ghost')).status).toBe(404);
    expect((await call('POST', '/api/admin/projects/ghost/status', { state: 'PAUSED' })).status).toBe(404);

    const rotated = (await (await call('POST', '/api/admin/projects/notes/rotate', {})).json()) as { token: string };
    expect((await client.closed).code).toBe(4002);
    const second = await PxClient.connect(base, rotated.token);
    cleanups.push(() => second.close());
    await second.next((f) => f.type === 'status');
    expect((await call('POST', '/api/admin/tokens/revoke', { token: rotated.token })).status).toBe(204);
    expect((await second.closed).code).toBe(4002);

    expect((await call('DELETE', '/api/admin/projects/notes')).status).toBe(204);
    expect(cp.projects()).toEqual([]);
    expect((await fetch(`${base}/api/v1/status/${rotated.token}`)).status).toBe(403);

    const audit = (await (await call('GET', '/api/admin/audit?project=notes&limit=20')).json()) as {
      entries: Array<{ action: string; from: string | null; to: string | null; actor: string; at: number }>;
    };
    expect(audit.entries.map((e) => [e.action, e.from, e.to])).toEqual([
      ['project.delete', 'MAINTENANCE', null],
      ['token.revoke', rotated.token.slice(0, 7) + '…', null],
      ['token.rotate', token.slice(0, 7) + '…', rotated.token.slice(0, 7) + '…'],
      ['fail-mode', 'open', 'closed'],
      ['status', 'ACTIVE', 'MAINTENANCE'],
      ['project.create', null, 'ACTIVE, fail mode open'],
    ]);
    for (const e of audit.entries) {
      expect(e.actor).toBe('admin api 127.0.0.1');
      expect(e.at).toBeGreaterThan(Date.now() - 60_000);
    }
  });

  it('streams snapshots over server-sent events on every change', async () => {
    const { cp, base } = await start();
    await cp.createProject({ name: 'notes' });
    const ctrl = new AbortController();
    cleanups.push(() => ctrl.abort());
    const res = await fetch(`${base}/api/admin/events`, {
      headers: { authorization: `Bearer ${ADMIN}` },
      signal: ctrl.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    const nextSnapshot = async (
      test: (s: { projects: Array<{ name: string; state: string }> }) => boolean,
    ): Promise<void> => {
      for (;;) {
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (block.includes('event: snapshot') && data && test(JSON.parse(data.slice(6)) as never)) return;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buffer += value;
      }
    };
    await nextSnapshot((s) => s.projects[0]?.state === 'ACTIVE');
    await cp.setStatus('notes', 'OFFLINE');
    await nextSnapshot((s) => s.projects[0]?.state === 'OFFLINE');
  });

  it('lists the admin and protocol routes in OpenAPI and serves the dashboard', async () => {
    const { base } = await start();
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/admin/projects',
        '/api/admin/projects/{name}',
        '/api/admin/projects/{name}/status',
        '/api/admin/projects/{name}/fail-mode',
        '/api/admin/projects/{name}/rotate',
        '/api/admin/tokens/revoke',
        '/api/admin/projects/{name}/instances',
        '/api/admin/audit',
        '/api/v1/status/{token}',
        '/api/v1/sdk/versions',
      ]),
    );
    expect(Object.keys(doc.paths['/api/admin/projects']!)).toEqual(expect.arrayContaining(['get', 'post']));
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Admin token');
    expect(html).toContain('<script src="/dashboard.js"');
    const script = await fetch(`${base}/dashboard.js`);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    expect(await script.text()).toContain("'Set ' + p.name + ' to ' + s");
  });
});
