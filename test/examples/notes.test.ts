import { readFileSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { io as connect } from 'socket.io-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createNotesApp, type NotesApp } from '../../examples/notes/app.js';
import { TaskBuffer } from '../../src/buffers/index.js';
import { TEST_SECRET, tempDir } from '../helpers.js';
import { SseReader } from '../streams/sse-client.js';

describe('examples/notes', () => {
  let app: NotesApp;
  let cleanup: () => void;
  let base: string;
  let dataDir: string;

  beforeEach(async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    dataDir = t.dir;
    app = createNotesApp({ dataDir: t.dir, secret: TEST_SECRET, portal: { requestLog: false, overload: false } });
    await app.portal.run({ port: 0 });
    base = `http://127.0.0.1:${app.portal.port}`;
  });
  afterEach(async () => {
    await app.close();
    cleanup();
  });

  const login = async (username: string, password: string): Promise<string> => {
    const res = await fetch(`${base}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.userId).not.toMatch(/^\d+$/); // masked, never the raw id
    return body.userId as string;
  };
  const call = (token: string, path: string, init: RequestInit = {}) =>
    fetch(`${base}${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        ...(init.headers as Record<string, string> | undefined),
      },
    });

  it('serves /health and the express root', async () => {
    expect((await fetch(`${base}/health`)).status).toBe(200);
    expect(await (await fetch(`${base}/`)).text()).toContain('notes service');
  });

  it('logs in with a masked id, keeps notes per user, and refuses a wrong password', async () => {
    const bad = await fetch(`${base}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'demo', password: 'nope' }),
    });
    expect(bad.status).toBe(401);
    expect((await bad.json()).code).toBe('BAD_CREDENTIALS');
    const demo = await login('demo', 'demo-password');
    const admin = await login('admin', 'admin-password');
    const created = await call(demo, '/api/notes', {
      method: 'POST',
      body: JSON.stringify({ text: 'it\'s a "quoted" note', tags: ['x'] }),
    });
    expect(created.status).toBe(201);
    const note = await created.json();
    expect(note.text).toBe('it\'s a "quoted" note');
    expect(await (await call(demo, '/api/notes')).json()).toHaveLength(1);
    expect(await (await call(admin, '/api/notes')).json()).toHaveLength(0);
    expect((await call(admin, `/api/notes/${note.id}`)).status).toBe(404);
    const search = await (await call(demo, `/api/notes/search?q=${encodeURIComponent('"quoted"')}`)).json();
    expect(search.map((n: { id: number }) => n.id)).toEqual([note.id]);
    expect(await (await call(demo, '/api/notes/search?q=%25')).json()).toEqual([]);
  });

  it('answers hostile note input with a clear problem and leaves stored notes as they were', async () => {
    const demo = await login('demo', 'demo-password');
    await call(demo, '/api/notes', { method: 'POST', body: JSON.stringify({ text: 'keep me' }) });
    const before = app.db.fetch('notes');
    const cases: Array<[string, number, string]> = [
      ['{"text": "unterminated', 400, 'ERR_MALFORMED_JSON'],
      ['{"text": 42}', 400, 'ERR_VALIDATION'],
      ['{"text": ""}', 400, 'ERR_VALIDATION'],
      [JSON.stringify({ text: 'x'.repeat(200_000) }), 413, 'ERR_BODY_TOO_LARGE'],
      ['{"__proto__": {"admin": true}, "text": 1}', 400, 'ERR_VALIDATION'],
      ['[1, 2, 3]', 400, 'ERR_VALIDATION'],
    ];
    for (const [body, status, code] of cases) {
      const res = await call(demo, '/api/notes', { method: 'POST', body });
      expect(res.status, body.slice(0, 40)).toBe(status);
      expect((await res.json()).code).toBe(code);
    }
    const sqlish = await call(demo, `/api/notes/search?q=${encodeURIComponent("' OR 1=1; DROP TABLE notes; --")}`);
    expect(await sqlish.json()).toEqual([]);
    expect(app.db.fetch('notes')).toEqual(before);
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it('keeps admin routes behind the notes:admin scope', async () => {
    const demo = await login('demo', 'demo-password');
    const admin = await login('admin', 'admin-password');
    const forbidden = await call(demo, '/api/admin/stats');
    expect(forbidden.status).toBe(403);
    const stats = await (await call(admin, '/api/admin/stats')).json();
    expect(stats.users).toBe(2);
    expect(stats.tasks).toMatchObject({ dead: 0 });
  });

  it('rate-limits search per user', async () => {
    const demo = await login('demo', 'demo-password');
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await call(demo, '/api/notes/search?q=a')).status);
    expect(statuses.slice(0, 10).every((s) => s === 200)).toBe(true);
    expect(statuses.slice(10)).toEqual([429, 429]);
  });

  it('revokes the token on logout', async () => {
    const demo = await login('demo', 'demo-password');
    expect((await call(demo, '/api/logout', { method: 'POST' })).status).toBe(204);
    const after = await call(demo, '/api/notes');
    expect(after.status).toBe(401);
    expect((await after.json()).code).toBe('ERR_AUTH_REVOKED');
  });

  it('sends a digest through the task buffer into the outbox', async () => {
    const demo = await login('demo', 'demo-password');
    await call(demo, '/api/notes', { method: 'POST', body: JSON.stringify({ text: 'remember the milk' }) });
    const queued = await call(demo, '/api/digest', { method: 'POST' });
    expect(queued.status).toBe(202);
    for (let i = 0; i < 100 && app.db.count('outbox') === 0; i++) await new Promise((r) => setTimeout(r, 50));
    const [mail] = app.db.fetch('outbox');
    expect(mail).toMatchObject({ to_address: 'demo@example.com', subject: 'Your notes digest' });
    expect(String(mail!.body)).toContain('remember the milk');
  });

  it('keeps a digest pushed by a request still in flight when the app closes', async () => {
    const demo = await login('demo', 'demo-password');
    // The body arrives in two parts: close() starts while the request is still being read.
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        `${base}/api/digest`,
        {
          method: 'POST',
          agent: false,
          headers: { authorization: `Bearer ${demo}`, 'content-type': 'application/json', 'content-length': '2' },
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.write('{');
      setTimeout(() => {
        closing = app.close();
        setTimeout(() => req.end('}'), 100);
      }, 50);
    });
    let closing: Promise<void> | undefined;
    const { status, body } = await answer;
    expect(status).toBe(202);
    expect(JSON.parse(body)).toEqual({ jobId: expect.any(Number) });
    await closing;
    // The job is in the queue file: waiting, or already done by a worker before the buffer stopped.
    const reopened = new TaskBuffer({ dataDir });
    try {
      const stats = reopened.stats();
      expect(stats.pending + stats.done).toBe(1);
      expect(stats.dead + stats.failed).toBe(0);
    } finally {
      await reopened.stop();
    }
  });

  it('pushes a new note to every socket of its user, and only theirs', async () => {
    const demo = await login('demo', 'demo-password');
    const admin = await login('admin', 'admin-password');
    const open = (token: string) => connect(base, { auth: { token }, transports: ['websocket'], reconnection: false });
    const tabs = [open(demo), open(demo), open(admin)];
    try {
      await Promise.all(
        tabs.map(
          (s) =>
            new Promise<void>((resolve, reject) => s.once('connect', () => resolve()).once('connect_error', reject)),
        ),
      );
      const received = tabs.map(() => [] as unknown[]);
      tabs.forEach((s, i) => s.on('note_created', (n: unknown) => received[i]!.push(n)));
      const deleted: unknown[] = [];
      tabs[1]!.on('note_deleted', (n: unknown) => deleted.push(n));
      const joined = await tabs[0]!.emitWithAck('join_team', { teamId: 'core' });
      expect(joined).toMatchObject({ joined: 'core' });
      const bad = await tabs[0]!.emitWithAck('join_team', { teamId: 'NOT VALID' });
      expect(bad.error.code).toBe('ERR_VALIDATION');
      await call(demo, '/api/notes', { method: 'POST', body: JSON.stringify({ text: 'pushed' }) });
      for (let i = 0; i < 50 && (received[0]!.length === 0 || received[1]!.length === 0); i++)
        await new Promise((r) => setTimeout(r, 20));
      expect(received.map((r) => r.length)).toEqual([1, 1, 0]);
      const { id } = received[0]![0] as { id: number };
      expect((await call(demo, `/api/notes/${id}`, { method: 'DELETE' })).status).toBe(204);
      for (let i = 0; i < 50 && deleted.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(deleted).toEqual([{ id }]);
    } finally {
      for (const s of tabs) s.close();
    }
  });

  it('streams new notes to the live feed of their user (server-sent events), and only theirs', async () => {
    const demo = await login('demo', 'demo-password');
    const admin = await login('admin', 'admin-password');
    const mine = await SseReader.open(`${base}/api/notes/feed`, { authorization: `Bearer ${demo}` });
    const theirs = await SseReader.open(`${base}/api/notes/feed?access_token=${admin}`);
    try {
      expect((await SseReader.open(`${base}/api/notes/feed`)).status).toBe(401);
      await mine.until((r) => r.events.length === 1);
      await theirs.until((r) => r.events.length === 1);
      expect(mine.data('ready')).toEqual([{ notes: 0 }]);
      const created = await call(demo, '/api/notes', { method: 'POST', body: JSON.stringify({ text: 'live' }) });
      const note = (await created.json()) as { id: number };
      await mine.until((r) => r.data('note_created').length === 1);
      expect(mine.data('note_created')).toEqual([expect.objectContaining({ id: note.id, text: 'live' })]);
      expect((await call(demo, `/api/notes/${note.id}`, { method: 'DELETE' })).status).toBe(204);
      await mine.until((r) => r.data('note_deleted').length === 1);
      expect(theirs.events.map((e) => e.event)).toEqual(['ready']);
    } finally {
      mine.close();
      theirs.close();
    }
  });

  it('attaches uploaded files to a note, keeping them under dataDir, and refuses wrong types and foreign notes', async () => {
    const demo = await login('demo', 'demo-password');
    const admin = await login('admin', 'admin-password');
    const created = await call(demo, '/api/notes', { method: 'POST', body: JSON.stringify({ text: 'with files' }) });
    const { id } = (await created.json()) as { id: number };
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...new Array<number>(200).fill(1)]);
    const form = (type: string, bytes: Uint8Array | string, name: string): FormData => {
      const f = new FormData();
      f.set('file', new Blob([bytes], { type }), name);
      return f;
    };
    const send = (token: string, noteId: number, body: FormData) =>
      fetch(`${base}/api/notes/${noteId}/attachments`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        body,
      });
    const ok = await send(demo, id, form('image/png', png, 'chart.png'));
    expect(ok.status).toBe(201);
    const [saved] = (await ok.json()) as Array<{ id: number; name: string; size: number; type: string }>;
    expect(saved).toMatchObject({ name: 'chart.png', size: 208, type: 'image/png' });
    const row = app.db.fetchOne<{ file: string; note_id: number }>('attachments', { where: { id: saved!.id } });
    expect(row?.note_id).toBe(id);
    expect(readFileSync(row!.file)).toEqual(Buffer.from(png));
    expect(readdirSync(join(dataDir, 'tmp-uploads'))).toEqual([]);

    const disguised = await send(demo, id, form('image/png', 'just text', 'fake.png'));
    expect(disguised.status).toBe(415);
    const foreign = await send(admin, id, form('image/png', png, 'x.png'));
    expect(foreign.status).toBe(404);
    expect(app.db.count('attachments')).toBe(1);
    expect(readdirSync(join(dataDir, 'attachments')).length).toBe(1);
    expect(readdirSync(join(dataDir, 'tmp-uploads'))).toEqual([]);
  });

  it('lets the admin flip maintenance: gated routes answer 503, health stays up', async () => {
    const admin = await login('admin', 'admin-password');
    const demo = await login('demo', 'demo-password');
    const set = await call(admin, '/admin/lifecycle', {
      method: 'POST',
      body: JSON.stringify({ state: 'MAINTENANCE', message: 'Back soon', retryAfterSec: 120 }),
    });
    expect(set.status).toBe(200);
    const gated = await call(demo, '/api/notes');
    expect(gated.status).toBe(503);
    expect(gated.headers.get('retry-after')).toBe('120');
    expect(await gated.json()).toMatchObject({ code: 'SERVICE_MAINTENANCE', detail: 'Back soon' });
    expect((await fetch(`${base}/health`)).status).toBe(200);
    const status = await (await fetch(`${base}/status`)).json();
    expect(status).toMatchObject({
      lifecycle: 'MAINTENANCE',
      version: expect.any(String),
      checks: { database: { state: 'OK' } },
    });
    await call(admin, '/admin/lifecycle', { method: 'POST', body: JSON.stringify({ state: 'ACTIVE' }) });
    expect((await call(demo, '/api/notes')).status).toBe(200);
  });
});
