import { request as httpRequest } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HttpError, z, type ServicePortal } from '../../src/index.js';
import { createLogger } from '../../src/logger.js';
import { makePortal, postRaw } from '../helpers.js';

describe('ServicePortal', () => {
  let portal: ServicePortal;
  let url: (path: string) => string;
  let stop: () => Promise<void>;
  let calls: number;
  /** Slow requests whose handler has started (the close test waits for one instead of guessing a delay). */
  let slowStarted = 0;
  const notes: Array<{ id: number; text: string }> = [];

  beforeEach(async () => {
    calls = 0;
    notes.length = 0;
    const made = makePortal({ bodyLimit: '1kb' });
    ({ portal, url, stop } = made);
    portal.endpoint(
      '/api/greet',
      {
        description: 'Greets',
        gate: { auth: 'none' },
        input: z.object({ name: z.string().min(1), times: z.number().int().positive().optional() }),
        output: z.object({ message: z.string() }),
      },
      ({ input }) => {
        calls++;
        return { message: `Hello, ${input.name}!`.repeat(input.times ?? 1) };
      },
    );
    portal.endpoint(
      '/api/notes',
      {
        method: 'POST',
        description: 'Adds a note',
        gate: { auth: 'none' },
        input: z.object({ text: z.string().max(100) }),
      },
      ({ input, setStatus, setHeader }) => {
        calls++;
        const note = { id: notes.length + 1, text: input.text };
        notes.push(note);
        setStatus(201);
        setHeader('Location', `/api/notes/${note.id}`);
        return note;
      },
    );
    portal.endpoint(
      '/api/notes/:id',
      {
        method: ['GET', 'DELETE'],
        description: 'Reads or deletes a note',
        gate: { auth: 'none' },
        input: z.object({ id: z.number().int(), verbose: z.boolean().optional() }),
      },
      ({ input, req }) => {
        calls++;
        const note = notes.find((n) => n.id === input.id);
        if (!note) throw new HttpError(404, 'Note not found', { code: 'NOTE_NOT_FOUND' });
        if (req.method === 'DELETE') {
          notes.splice(notes.indexOf(note), 1);
          return undefined;
        }
        return input.verbose ? { ...note, verbose: true } : note;
      },
    );
    portal.endpoint(
      '/api/leaky',
      {
        method: 'GET',
        description: 'Returns more than it declares',
        gate: { auth: 'none' },
        output: z.object({ id: z.number() }),
      },
      () => ({ id: 'not-a-number', password: 'hunter2' }) as never,
    );
    portal.endpoint(
      '/api/strip',
      { method: 'GET', description: 'Extra keys', gate: { auth: 'none' }, output: z.object({ id: z.number() }) },
      () => ({ id: 1, secret: 's' }) as never,
    );
    portal.endpoint('/api/crash', { method: 'GET', description: 'Throws', gate: { auth: 'none' } }, () => {
      throw new Error('database password is hunter2');
    });
    portal.endpoint('/api/slow', { method: 'GET', description: 'Slow', gate: { auth: 'none' } }, async () => {
      slowStarted++;
      await new Promise((r) => setTimeout(r, 400));
      return { done: true };
    });
    portal.endpoint('/api/echo', { description: 'Echoes', gate: { auth: 'none' } }, ({ input }) => {
      calls++;
      return { input, keys: Object.keys(input as object) };
    });
    await made.start();
  });

  afterEach(async () => {
    await stop();
  });

  it('answers valid input with 200 and the handler result', async () => {
    const res = await postRaw(url('/api/greet'), JSON.stringify({ name: 'Ann', times: 2 }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ message: 'Hello, Ann!Hello, Ann!' });
  });

  it('coerces query and path strings to the types the input schema expects', async () => {
    await postRaw(url('/api/notes'), JSON.stringify({ text: 'first' }));
    const res = await fetch(url('/api/notes/1?verbose=true'));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: 1, text: 'first', verbose: true });
    const bad = await fetch(url('/api/notes/abc'));
    expect(bad.status).toBe(400);
    expect((await bad.json()).errors[0].path).toBe('id');
  });

  it('lets headers set by the handler replace the standard ones, once each', async () => {
    portal.endpoint(
      '/api/headers',
      { method: 'GET', description: 'Sets headers', gate: { auth: 'none' }, input: z.object({}) },
      ({ setHeader }) => {
        setHeader('X-Frame-Options', 'DENY');
        setHeader('Cache-Control', 'max-age=1');
        setHeader('cache-control', 'no-store');
        setHeader('Content-Length', '999');
        return { ok: true };
      },
    );
    const res = await fetch(url('/api/headers'));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-length')).toBe(String('{"ok":true}'.length));
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await res.json()).toEqual({ ok: true });
  });

  it('sends 201 with headers through the context helpers and 204 for no result', async () => {
    const created = await postRaw(url('/api/notes'), JSON.stringify({ text: 'x' }));
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/api/notes/1');
    const del = await fetch(url('/api/notes/1'), { method: 'DELETE' });
    expect(del.status).toBe(204);
    expect(notes).toHaveLength(0);
  });

  it('answers malformed JSON with a 400 problem and does not run the handler', async () => {
    const res = await postRaw(url('/api/notes'), '{"text": "unterminated');
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const body = await res.json();
    expect(body).toMatchObject({ status: 400, code: 'ERR_MALFORMED_JSON', title: 'Bad Request' });
    expect(body.requestId).toBe(res.headers.get('x-request-id'));
    expect(calls).toBe(0);
    expect(notes).toHaveLength(0);
  });

  it('answers a schema failure with a 400 listing every issue with its path', async () => {
    const res = await postRaw(url('/api/greet'), JSON.stringify({ name: '', times: -1 }));
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.code).toBe('ERR_VALIDATION');
    expect(body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['name', 'times']);
    for (const e of body.errors) expect(typeof e.message).toBe('string');
    expect(calls).toBe(0);
  });

  it('answers a body over the limit with 413 before buffering it', async () => {
    const res = await postRaw(url('/api/notes'), JSON.stringify({ text: 'x'.repeat(5000) }));
    expect(res.status).toBe(413);
    expect((await res.json()).code).toBe('ERR_BODY_TOO_LARGE');
    expect(notes).toHaveLength(0);
  });

  it('answers a chunked body that grows past the limit with 413', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        url('/api/notes'),
        { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write('{"text":"');
      for (let i = 0; i < 10; i++) req.write('y'.repeat(500));
      req.end('"}');
    });
    expect(status).toBe(413);
    expect(notes).toHaveLength(0);
  });

  it('answers an unsupported content type with 415', async () => {
    const res = await postRaw(url('/api/notes'), '<note>x</note>', 'application/xml');
    expect(res.status).toBe(415);
    expect((await res.json()).code).toBe('ERR_UNSUPPORTED_MEDIA_TYPE');
    expect(notes).toHaveLength(0);
  });

  it('accepts form bodies', async () => {
    const res = await postRaw(url('/api/notes'), 'text=from+a+form', 'application/x-www-form-urlencoded');
    expect(res.status).toBe(201);
    expect(notes[0]?.text).toBe('from a form');
  });

  it('answers unknown routes with a 404 problem and wrong methods with 405 and Allow', async () => {
    const missing = await fetch(url('/api/nothing-here'));
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: 'ERR_NOT_FOUND', status: 404 });
    const wrong = await fetch(url('/api/greet'), { method: 'PUT' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    expect((await wrong.json()).code).toBe('ERR_METHOD_NOT_ALLOWED');
  });

  it('keeps prototype-pollution payloads away from handlers and prototypes', async () => {
    const payloads = [
      '{"__proto__": {"polluted": "yes"}, "a": 1}',
      '{"constructor": {"prototype": {"polluted": "yes"}}, "a": 1}',
      '{"nested": {"__proto__": {"polluted": "yes"}, "constructor": "x", "prototype": 1}, "a": 1}',
    ];
    for (const payload of payloads) {
      const res = await postRaw(url('/api/echo'), payload);
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body.keys).not.toContain('__proto__');
      expect(body.keys).not.toContain('constructor');
      expect(JSON.stringify(body)).not.toContain('polluted');
    }
    const form = await postRaw(
      url('/api/echo'),
      '__proto__=yes&constructor=x&prototype=z&a=1',
      'application/x-www-form-urlencoded',
    );
    expect((await form.json()).keys).toEqual(['a']);
    const query = await postRaw(url('/api/echo?__proto__=x&constructor=y&b=2'), '{}');
    expect((await query.json()).keys).toEqual(['b']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it('answers an output mismatch with a 500 that leaks nothing', async () => {
    const res = await fetch(url('/api/leaky'));
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('not-a-number');
    expect(JSON.parse(text).code).toBe('ERR_OUTPUT_INVALID');
  });

  it('drops keys the output schema does not declare', async () => {
    const res = await fetch(url('/api/strip'));
    expect(await res.json()).toEqual({ id: 1 });
  });

  it('answers a handler crash with a 500 naming the request id, never the error', async () => {
    const res = await fetch(url('/api/crash'), { headers: { 'x-request-id': 'trace-abc-123' } });
    expect(res.status).toBe(500);
    const body = await res.json();
    expect(body.code).toBe('ERR_INTERNAL');
    expect(body.requestId).toBe('trace-abc-123');
    expect(body.detail).toContain('trace-abc-123');
    expect(JSON.stringify(body)).not.toContain('hunter2');
    expect(JSON.stringify(body)).not.toContain('at ');
  });

  it('echoes a sane X-Request-Id and replaces an unsafe one', async () => {
    const echoed = await postRaw(url('/api/greet'), '{"name":"a"}', 'application/json', { 'x-request-id': 'abc-123' });
    expect(echoed.headers.get('x-request-id')).toBe('abc-123');
    const replaced = await postRaw(url('/api/greet'), '{"name":"a"}', 'application/json', {
      'x-request-id': 'bad id <script>',
    });
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const generated = await fetch(url('/nope'));
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('sets security headers on endpoint, fallback and error responses', async () => {
    portal.app.get('/plain', (_req, res) => {
      res.send('plain');
    });
    for (const res of [
      await postRaw(url('/api/greet'), '{"name":"a"}'),
      await fetch(url('/plain')),
      await fetch(url('/missing')),
    ]) {
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(res.headers.get('strict-transport-security')).toContain('max-age');
      expect(res.headers.get('x-powered-by')).toBeNull();
    }
  });

  it('serves an OpenAPI 3.1 document listing every endpoint with its schemas', async () => {
    const doc = await (await fetch(url('/openapi.json'))).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/admin/lifecycle',
      '/api/crash',
      '/api/echo',
      '/api/greet',
      '/api/leaky',
      '/api/notes',
      '/api/notes/{id}',
      '/api/slow',
      '/api/strip',
    ]);
    expect(doc.paths['/admin/lifecycle'].post.security).toEqual([{ bearerAuth: ['lifecycle:admin'] }]);
    expect(doc.paths['/admin/lifecycle'].post.responses['403'].description).toContain('lifecycle:admin');
    const greet = doc.paths['/api/greet'].post;
    expect(greet.summary).toBe('Greets');
    expect(greet.requestBody.content['application/json'].schema.properties.name).toEqual({
      type: 'string',
      minLength: 1,
    });
    expect(greet.responses['200'].content['application/json'].schema.properties.message).toEqual({ type: 'string' });
    const byId = doc.paths['/api/notes/{id}'];
    expect(Object.keys(byId).sort()).toEqual(['delete', 'get']);
    expect(byId.get.parameters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'id', in: 'path', required: true }),
        expect.objectContaining({ name: 'verbose', in: 'query', required: false }),
      ]),
    );
  });

  it('hands unmatched requests to express routes and middleware on portal.app', async () => {
    const seen: string[] = [];
    portal.app.use((req, _res, next) => {
      seen.push(req.path);
      next();
    });
    portal.app.get('/legacy/:name', (req, res) => {
      res.json({ hello: req.params.name, requestId: req.requestId });
    });
    const res = await fetch(url('/legacy/bob'));
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.hello).toBe('bob');
    expect(body.requestId).toBe(res.headers.get('x-request-id'));
    expect(seen).toEqual(['/legacy/bob']);
  });

  it('turns errors from express routes into problems', async () => {
    portal.app.get('/express-fail', () => {
      throw new HttpError(409, 'Already there', { code: 'DUPLICATE' });
    });
    const res = await fetch(url('/express-fail'));
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ code: 'DUPLICATE', detail: 'Already there' });
  });

  it('gates an express route with portal.gate()', async () => {
    let reached = 0;
    portal.app.get('/gated', portal.gate({ auth: 'bearer', scopes: ['legacy:read'] }), (req, res) => {
      reached++;
      res.json({ id: req.identity?.id });
    });
    const anonymous = await fetch(url('/gated'));
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toContain('Bearer');
    const weak = await portal.tokens.issue({ sub: '7', scopes: [] });
    const forbidden = await fetch(url('/gated'), { headers: { authorization: `Bearer ${weak}` } });
    expect(forbidden.status).toBe(403);
    expect(reached).toBe(0);
    const strong = await portal.tokens.issue({ sub: '7', scopes: ['legacy:read'] });
    const ok = await fetch(url('/gated'), { headers: { authorization: `Bearer ${strong}` } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ id: '7' });
    expect(reached).toBe(1);
  });

  it("reports a handler without a schema once per portal, on that portal's own logger", async () => {
    const lines = (): { lines: Array<Record<string, unknown>>; logger: ReturnType<typeof createLogger> } => {
      const out: Array<Record<string, unknown>> = [];
      const logger = createLogger({
        format: 'json',
        level: 'warn',
        destination: { write: (l: string) => void out.push(JSON.parse(l) as Record<string, unknown>) },
      });
      return { lines: out, logger };
    };
    const a = lines();
    const b = lines();
    const first = makePortal({ name: 'first', logger: a.logger });
    const second = makePortal({ name: 'second', logger: b.logger });
    try {
      for (const p of [first.portal, second.portal]) {
        p.endpoint('/same', { description: 'No input' }, () => undefined);
        p.endpoint('/same', { method: 'GET', description: 'No input' }, () => undefined);
      }
      const reports = (l: Array<Record<string, unknown>>): unknown[] =>
        l.filter((x) => x.code === 'ERR_ENFORCE_HANDLER').map((x) => [x.service, x.component, x.handler]);
      expect(reports(a.lines)).toEqual([['first', 'enforcer', '/same']]);
      expect(reports(b.lines)).toEqual([['second', 'enforcer', '/same']]);
    } finally {
      await first.stop();
      await second.stop();
    }
  });

  it('refuses, in strict mode, handlers without a description or an input schema', async () => {
    const strict = makePortal({ enforce: 'strict' });
    try {
      expect(() => strict.portal.endpoint('/a', { input: z.object({}) }, () => undefined)).toThrow(
        expect.objectContaining({ code: 'ERR_ENFORCE_HANDLER' }),
      );
      expect(() => strict.portal.endpoint('/b', { description: 'No input' }, () => undefined)).toThrow(
        expect.objectContaining({ code: 'ERR_ENFORCE_HANDLER' }),
      );
      expect(() =>
        strict.portal.endpoint('/c', { description: 'Fine', input: z.object({}) }, () => undefined),
      ).not.toThrow();
    } finally {
      await strict.stop();
    }
  });

  it('refuses bad endpoint configuration at registration', () => {
    expect(() => portal.endpoint('no-slash', {}, () => undefined)).toThrow(/must start with/);
    expect(() => portal.endpoint('/api/greet', { gate: { auth: 'none' } }, () => undefined)).toThrow(
      /already registered/,
    );
    expect(() => portal.endpoint('/x', { gate: { auth: 'none', scope: ['a'] } as never }, () => undefined)).toThrow(
      /unknown gate option "scope"/,
    );
    expect(() => portal.endpoint('/y', { method: 'TRACE' as never }, () => undefined)).toThrow(/unsupported method/);
    expect(() => portal.endpoint('/z', { gate: { auth: 'none', scopes: ['a'] } }, () => undefined)).toThrow(
      /scopes need/,
    );
    expect(() => portal.gate({ payloadAuthTokenKey: 'userId' })).toThrow(/not on express routes/);
  });

  it('lets an in-flight slow request finish when closing, and close() is safe twice', async () => {
    const before = slowStarted;
    const pending = fetch(url('/api/slow'));
    // In flight once its handler runs (a fixed delay lost the race on a loaded machine: close came before connect).
    while (slowStarted === before) await new Promise((r) => setTimeout(r, 5));
    const closing = portal.close({ timeoutMs: 5000 });
    const again = portal.close();
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ done: true });
    await closing;
    await again;
    await expect(fetch(url('/api/greet'))).rejects.toThrow();
  });
});
