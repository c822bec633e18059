import { afterEach, describe, expect, it } from 'vitest';
import { z } from '../../src/index.js';
import { makePortal } from '../helpers.js';

describe('ServicePortal.inject', () => {
  let stop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stop?.();
    stop = undefined;
  });

  function notesPortal() {
    const made = makePortal({
      name: 'inject-test',
      bodyLimit: '1kb',
      auth: { apiKeys: { reporting: { key: 'reporting-key-0123456789', scopes: ['reports:read'] } } },
    });
    stop = made.stop;
    const { portal } = made;
    const notes = new Map<number, string>();
    portal.endpoint(
      '/api/greet',
      {
        description: 'greets',
        gate: { auth: 'none' },
        input: z.object({ name: z.string().min(1) }),
        output: z.object({ message: z.string() }),
      },
      ({ input }) => ({
        message: `Hello, ${input.name}!`,
      }),
    );
    portal.endpoint(
      '/api/notes',
      {
        description: 'adds a note',
        gate: { auth: 'bearer', scopes: ['notes:write'] },
        input: z.object({ text: z.string().max(2000) }),
      },
      ({ input, setStatus }) => {
        notes.set(notes.size + 1, input.text);
        setStatus(201);
        return { id: notes.size };
      },
    );
    portal.endpoint(
      '/api/limited',
      {
        method: 'GET',
        description: 'limited',
        gate: { auth: 'none', rateLimit: { by: 'ip', points: 2, windowSec: 60 } },
        input: z.object({}),
      },
      () => ({ ok: true }),
    );
    portal.app.get('/legacy', portal.gate({ auth: 'apiKey' }), (req, res) => {
      res.json({ hello: req.identity?.id });
    });
    return { portal, notes };
  }

  it('answers an endpoint without listening, with the JSON result and the standard headers', async () => {
    const { portal } = notesPortal();
    const res = await portal.inject({ method: 'POST', url: '/api/greet', payload: { name: 'Ada' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ message: 'Hello, Ada!' });
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(portal.server.listening).toBe(false);
    expect(portal.port).toBe(0);
  });

  it('runs the gates: 401 without a token, 403 without the scope, 201 with both', async () => {
    const { portal, notes } = notesPortal();
    const anonymous = await portal.inject({ method: 'POST', url: '/api/notes', payload: { text: 'x' } });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(anonymous.headers['content-type']).toMatch(/^application\/problem\+json/);
    const reader = await portal.tokens.issue({ sub: '7', scopes: ['notes:read'] });
    const forbidden = await portal.inject({
      method: 'POST',
      url: '/api/notes',
      headers: { authorization: `Bearer ${reader}` },
      payload: { text: 'x' },
    });
    expect(forbidden.statusCode).toBe(403);
    expect(notes.size).toBe(0);
    const writer = await portal.tokens.issue({ sub: '7', scopes: ['notes:write'] });
    const created = await portal.inject({
      method: 'POST',
      url: '/api/notes',
      headers: { authorization: `Bearer ${writer}` },
      payload: { text: 'hello' },
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toEqual({ id: 1 });
    expect(notes.get(1)).toBe('hello');
  });

  it('rate-limits per client address: 429 with Retry-After on the third call', async () => {
    const { portal } = notesPortal();
    const codes: number[] = [];
    let last;
    for (let i = 0; i < 3; i++) {
      last = await portal.inject({ method: 'GET', url: '/api/limited' });
      codes.push(last.statusCode);
    }
    expect(codes).toEqual([200, 200, 429]);
    expect(Number(last!.headers['retry-after'])).toBeGreaterThan(0);
    // Another address has its own budget.
    expect((await portal.inject({ method: 'GET', url: '/api/limited', remoteAddress: '10.0.0.9' })).statusCode).toBe(
      200,
    );
  });

  it('answers a schema failure with 400 and the field errors, and malformed JSON with 400', async () => {
    const { portal } = notesPortal();
    const bad = await portal.inject({ method: 'POST', url: '/api/greet', payload: { name: '' } });
    expect(bad.statusCode).toBe(400);
    const problem = bad.json<{ status: number; errors: { path: string; message: string }[] }>();
    expect(problem.status).toBe(400);
    expect(problem.errors.map((e) => e.path)).toEqual(['name']);
    const malformed = await portal.inject({
      method: 'POST',
      url: '/api/greet',
      headers: { 'content-type': 'application/json' },
      payload: '{"name":',
    });
    expect(malformed.statusCode).toBe(400);
  });

  it('answers 503 with Retry-After while the lifecycle is in maintenance, and serves again after', async () => {
    const { portal } = notesPortal();
    await portal.lifecycle.set('MAINTENANCE', { retryAfterSec: 30 });
    const gated = await portal.inject({ method: 'POST', url: '/api/greet', payload: { name: 'Ada' } });
    expect(gated.statusCode).toBe(503);
    expect(gated.headers['retry-after']).toBe('30');
    expect((await portal.inject({ url: '/health' })).statusCode).toBe(200);
    await portal.lifecycle.set('ACTIVE');
    expect((await portal.inject({ method: 'POST', url: '/api/greet', payload: { name: 'Ada' } })).statusCode).toBe(200);
  });

  it('falls through to the express app, gates included, and answers 404 for unknown routes', async () => {
    const { portal } = notesPortal();
    expect((await portal.inject({ url: '/legacy' })).statusCode).toBe(401);
    const ok = await portal.inject({ url: '/legacy', headers: { 'x-api-key': 'reporting-key-0123456789' } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ hello: 'reporting' });
    expect(ok.headers['x-request-id']).toBeDefined();
    const missing = await portal.inject({ url: '/nowhere' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json<{ code: string }>().code).toBe('ERR_NOT_FOUND');
  });

  it('refuses a body over the limit with 413 and never runs the handler', async () => {
    const { portal, notes } = notesPortal();
    const writer = await portal.tokens.issue({ sub: '7', scopes: ['notes:write'] });
    const res = await portal.inject({
      method: 'POST',
      url: '/api/notes',
      headers: { authorization: `Bearer ${writer}` },
      payload: { text: 'x'.repeat(1500) },
    });
    expect(res.statusCode).toBe(413);
    expect(notes.size).toBe(0);
  });

  it('refuses a url that is not a path, and requests after close()', async () => {
    const { portal } = notesPortal();
    await expect(portal.inject({ url: 'http://example.com/' })).rejects.toThrow(/url must be a path/);
    await portal.close();
    await expect(portal.inject({ url: '/health' })).rejects.toThrow(/closed/);
  });
});
