import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, base64url } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { ServicePortal, z } from '../../src/index.js';
import { TEST_SECRET, makePortal, postRaw, tempDir } from '../helpers.js';

const enc = new TextEncoder();
const now = (): number => Math.floor(Date.now() / 1000);

function hs256(claims: Record<string, unknown>): SignJWT {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('42')
    .setJti(crypto.randomUUID())
    .setIssuedAt();
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function gatedPortal(options: Parameters<typeof makePortal>[0] = {}) {
  const made = makePortal(options);
  const counter = { calls: 0 };
  made.portal.endpoint('/api/me', { method: 'GET', description: 'Me', gate: { auth: 'bearer' } }, ({ identity }) => {
    counter.calls++;
    return { id: identity?.id, scopes: identity?.scopes };
  });
  await made.start();
  cleanups.push(made.stop);
  return { ...made, counter };
}

async function expectRejected(res: Response, status: number, code: string): Promise<void> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/problem\+json/);
  expect((await res.json()).code).toBe(code);
}

describe('Gates: bearer tokens', () => {
  it('accepts a token it issued and refuses every forged or broken one without running the handler', async () => {
    const { portal, url, counter } = await gatedPortal({
      auth: { secret: TEST_SECRET, issuer: 'notes', audience: 'notes-api', clockToleranceSec: 5 },
    });
    const get = (token: string) => fetch(url('/api/me'), { headers: { authorization: `Bearer ${token}` } });
    const key = enc.encode(TEST_SECRET);
    const good = await portal.tokens.issue({ sub: '42', scopes: ['notes:read'] });
    const ok = await get(good);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ id: '42', scopes: ['notes:read'] });
    expect(counter.calls).toBe(1);

    const none = `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${base64url.encode(JSON.stringify({ sub: '42', exp: now() + 600, iss: 'notes', aud: 'notes-api' }))}.`;
    await expectRejected(await get(none), 401, 'ERR_AUTH_ALGORITHM');
    const wrongSecret = await hs256({})
      .setIssuer('notes')
      .setAudience('notes-api')
      .setExpirationTime('5m')
      .sign(enc.encode('another-secret-that-is-also-long-enough-000'));
    await expectRejected(await get(wrongSecret), 401, 'ERR_AUTH_SIGNATURE');
    const expired = await hs256({})
      .setIssuer('notes')
      .setAudience('notes-api')
      .setExpirationTime(now() - 60)
      .sign(key);
    await expectRejected(await get(expired), 401, 'ERR_AUTH_EXPIRED');
    const notYet = await hs256({})
      .setIssuer('notes')
      .setAudience('notes-api')
      .setExpirationTime('10m')
      .setNotBefore(now() + 120)
      .sign(key);
    await expectRejected(await get(notYet), 401, 'ERR_AUTH_NOT_YET_VALID');
    const noExp = await hs256({}).setIssuer('notes').setAudience('notes-api').sign(key);
    await expectRejected(await get(noExp), 401, 'ERR_AUTH_CLAIMS');
    const wrongIss = await hs256({}).setIssuer('evil').setAudience('notes-api').setExpirationTime('5m').sign(key);
    await expectRejected(await get(wrongIss), 401, 'ERR_AUTH_ISSUER');
    const wrongAud = await hs256({}).setIssuer('notes').setAudience('other-api').setExpirationTime('5m').sign(key);
    await expectRejected(await get(wrongAud), 401, 'ERR_AUTH_AUDIENCE');
    await expectRejected(await get('garbage.not.ajwt'), 401, 'ERR_AUTH_MALFORMED');
    await expectRejected(await get('%%%'), 401, 'ERR_AUTH_MALFORMED');
    await expectRejected(
      await fetch(url('/api/me'), { headers: { authorization: 'Bearer' } }),
      401,
      'ERR_AUTH_MISSING',
    );
    await expectRejected(await fetch(url('/api/me'), { headers: { authorization: '' } }), 401, 'ERR_AUTH_MALFORMED');
    await expectRejected(await fetch(url('/api/me')), 401, 'ERR_AUTH_MISSING');
    const huge = await fetch(url('/api/me'), { headers: { authorization: `Bearer ${'a'.repeat(20 * 1024)}` } });
    await expectRejected(huge, 431, 'ERR_HEADERS_TOO_LARGE');
    const tampered = good.slice(0, -2) + (good.endsWith('AA') ? 'BB' : 'AA');
    await expectRejected(await get(tampered), 401, 'ERR_AUTH_SIGNATURE');
    expect(counter.calls).toBe(1);
    const unauthorized = await get(expired);
    expect(unauthorized.headers.get('www-authenticate')).toMatch(/^Bearer realm=".*", error="invalid_token"$/);
  });

  it('accepts a token expired within the clock tolerance and refuses one beyond it', async () => {
    const { url, counter } = await gatedPortal({ auth: { secret: TEST_SECRET, clockToleranceSec: 30 } });
    const key = enc.encode(TEST_SECRET);
    const within = await hs256({})
      .setExpirationTime(now() - 10)
      .sign(key);
    const beyond = await hs256({})
      .setExpirationTime(now() - 45)
      .sign(key);
    expect((await fetch(url('/api/me'), { headers: { authorization: `Bearer ${within}` } })).status).toBe(200);
    await expectRejected(
      await fetch(url('/api/me'), { headers: { authorization: `Bearer ${beyond}` } }),
      401,
      'ERR_AUTH_EXPIRED',
    );
    expect(counter.calls).toBe(1);
  });

  it('refuses an HS256 token made with the public key as secret on an RS256-pinned portal', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
    const publicJwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    const { url, portal, counter } = await gatedPortal({
      auth: {
        jwks: { keys: [publicJwk] },
        algorithms: ['RS256'],
        signingKey: { key: await exportJWK(privateKey), alg: 'RS256', kid: 'k1' },
      },
    });
    const legit = await portal.tokens.issue({ sub: '42' });
    expect((await fetch(url('/api/me'), { headers: { authorization: `Bearer ${legit}` } })).status).toBe(200);
    const pem = await exportSPKI(publicKey);
    const confused = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
      .setSubject('42')
      .setExpirationTime('5m')
      .sign(enc.encode(pem));
    await expectRejected(
      await fetch(url('/api/me'), { headers: { authorization: `Bearer ${confused}` } }),
      401,
      'ERR_AUTH_ALGORITHM',
    );
    expect(counter.calls).toBe(1);
  });

  it('refuses a revoked token, also after the portal restarts on the same dataDir', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    let calls = 0;
    const start = async () => {
      const portal = new ServicePortal({
        overload: false,
        dataDir: dir,
        requestLog: false,
        enforce: 'warn',
        auth: { secret: TEST_SECRET },
      });
      portal.endpoint('/api/me', { method: 'GET' }, ({ identity }) => {
        calls++;
        return { id: identity?.id };
      });
      await portal.run({ port: 0 });
      return portal;
    };
    const first = await start();
    const token = await first.tokens.issue({ sub: '9' });
    const other = await first.tokens.issue({ sub: '9' });
    const hit = (p: ServicePortal, t: string) =>
      fetch(`http://127.0.0.1:${p.port}/api/me`, { headers: { authorization: `Bearer ${t}` } });
    expect((await hit(first, token)).status).toBe(200); // now cached as verified
    await first.revokeToken(token);
    await expectRejected(await hit(first, token), 401, 'ERR_AUTH_REVOKED');
    expect((await hit(first, other)).status).toBe(200);
    await first.close();
    const second = await start();
    cleanups.push(() => second.close());
    await expectRejected(await hit(second, token), 401, 'ERR_AUTH_REVOKED');
    expect((await hit(second, other)).status).toBe(200);
    expect(calls).toBe(3);
    await expect(first.revokeToken('not a jwt')).rejects.toMatchObject({ code: 'ERR_AUTH_MALFORMED' });
  });
});

describe('Gates: API keys, basic auth and scopes', () => {
  it('accepts a configured key and refuses wrong keys of the same and another length', async () => {
    const made = makePortal({
      auth: {
        apiKeys: { reporting: { key: 'rk_live_0123456789abcdef', scopes: ['reports:read'] } },
        basic: (user, pass) =>
          user === 'admin' && pass === 'correct horse' ? { id: 'admin', scopes: ['reports:read', 'admin'] } : null,
      },
    });
    let calls = 0;
    made.portal.endpoint(
      '/reports',
      { method: 'GET', gate: { auth: 'apiKey', scopes: ['reports:read'] } },
      ({ identity }) => {
        calls++;
        return { id: identity?.id, via: identity?.via };
      },
    );
    made.portal.endpoint('/admin', { method: 'GET', gate: { auth: 'any', scopes: ['admin'] } }, ({ identity }) => {
      calls++;
      return { id: identity?.id, via: identity?.via };
    });
    await made.start();
    cleanups.push(made.stop);
    const ok = await fetch(made.url('/reports'), { headers: { 'x-api-key': 'rk_live_0123456789abcdef' } });
    expect(await ok.json()).toEqual({ id: 'reporting', via: 'apiKey' });
    await expectRejected(
      await fetch(made.url('/reports'), { headers: { 'x-api-key': 'rk_live_0123456789abcdeX' } }),
      401,
      'ERR_AUTH_API_KEY',
    );
    await expectRejected(
      await fetch(made.url('/reports'), { headers: { 'x-api-key': 'short' } }),
      401,
      'ERR_AUTH_API_KEY',
    );
    await expectRejected(
      await fetch(made.url('/reports'), { headers: { 'x-api-key': 'x'.repeat(4000) } }),
      401,
      'ERR_AUTH_API_KEY',
    );
    await expectRejected(await fetch(made.url('/reports')), 401, 'ERR_AUTH_MISSING');
    expect(calls).toBe(1);

    const basic = (u: string, p: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });
    const admin = await fetch(made.url('/admin'), { headers: basic('admin', 'correct horse') });
    expect(await admin.json()).toEqual({ id: 'admin', via: 'basic' });
    await expectRejected(await fetch(made.url('/admin'), { headers: basic('admin', 'wrong') }), 401, 'ERR_AUTH_BASIC');
    await expectRejected(
      await fetch(made.url('/admin'), { headers: { authorization: 'Basic !!!notbase64' } }),
      401,
      'ERR_AUTH_BASIC',
    );
    const missingScope = await fetch(made.url('/admin'), { headers: { 'x-api-key': 'rk_live_0123456789abcdef' } });
    expect(missingScope.status).toBe(403);
    const body = await missingScope.json();
    expect(body.code).toBe('ERR_FORBIDDEN_SCOPE');
    expect(body.detail).toContain('admin');
    expect(calls).toBe(2);
  });

  it('names every missing scope in the 403', async () => {
    const { portal, url } = makePortalStarted();
    let calls = 0;
    portal.endpoint('/both', { method: 'GET', gate: { scopes: ['notes:write', 'notes:admin'] } }, () => {
      calls++;
      return {};
    });
    await portal.run({ port: 0 });
    const token = await portal.tokens.issue({ sub: '1', scopes: ['notes:read'] });
    const res = await fetch(url('/both'), { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(403);
    expect((await res.json()).detail).toBe('Missing required scopes: notes:write, notes:admin');
    expect(calls).toBe(0);
  });
});

function makePortalStarted() {
  const made = makePortal();
  cleanups.push(made.stop);
  return made;
}

describe('Gates: rate limits', () => {
  it('lets exactly 100 of 200 concurrent requests through a 100-point limit, with headers', async () => {
    const { portal, url } = makePortalStarted();
    let calls = 0;
    portal.endpoint(
      '/search',
      { method: 'GET', gate: { auth: 'none', rateLimit: { by: 'ip', points: 100, windowSec: 60 } } },
      () => {
        calls++;
        return { ok: true };
      },
    );
    await portal.run({ port: 0 });
    const responses = await Promise.all(Array.from({ length: 200 }, () => fetch(url('/search'))));
    const passed = responses.filter((r) => r.status === 200);
    const limited = responses.filter((r) => r.status === 429);
    expect(passed).toHaveLength(100);
    expect(limited).toHaveLength(100);
    expect(calls).toBe(100);
    for (const r of responses) expect(r.headers.get('ratelimit-limit')).toBe('100');
    const remaining = passed.map((r) => Number(r.headers.get('ratelimit-remaining'))).sort((a, b) => a - b);
    expect(remaining).toEqual(Array.from({ length: 100 }, (_, i) => i));
    const l = limited[0]!;
    expect(Number(l.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(l.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect((await l.json()).code).toBe('ERR_RATE_LIMITED');
  });

  it('keeps per-user limits apart and enforces several rules on one route', async () => {
    const { portal, url } = makePortalStarted();
    portal.endpoint(
      '/notes',
      {
        method: 'GET',
        gate: {
          rateLimit: [
            { by: 'user', points: 3, windowSec: 60 },
            { by: 'endpoint', points: 5, windowSec: 60 },
          ],
        },
      },
      () => ({ ok: true }),
    );
    await portal.run({ port: 0 });
    const a = await portal.tokens.issue({ sub: 'a' });
    const b = await portal.tokens.issue({ sub: 'b' });
    const hit = (t: string) =>
      fetch(url('/notes'), { headers: { authorization: `Bearer ${t}` } }).then((r) => r.status);
    expect([await hit(a), await hit(a), await hit(a), await hit(a)]).toEqual([200, 200, 200, 429]);
    // b has its own user budget, but a's four calls (the refused one counts too) left one of the endpoint's five.
    expect([await hit(b), await hit(b)]).toEqual([200, 429]);
  });

  it('counts each portal.gate() on its own', async () => {
    const { portal, url } = makePortalStarted();
    const limit = { auth: 'none', rateLimit: { by: 'endpoint', points: 2, windowSec: 60 } } as const;
    portal.app.get('/a', portal.gate(limit), (_req, res) => void res.json({ route: 'a' }));
    portal.app.get('/b', portal.gate(limit), (_req, res) => void res.json({ route: 'b' }));
    await portal.run({ port: 0 });
    const a = [await fetch(url('/a')), await fetch(url('/a')), await fetch(url('/a'))].map((r) => r.status);
    const b = [await fetch(url('/b')), await fetch(url('/b'))].map((r) => r.status);
    expect(a).toEqual([200, 200, 429]);
    expect(b).toEqual([200, 200]);
  });

  it('shares counts through SQLite between two processes on one dataDir', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const children: ChildProcess[] = [];
    cleanups.push(() => {
      for (const c of children) c.kill('SIGKILL');
    });
    const startChild = async (): Promise<number> => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/servers/fixtures/rate-limited-portal.ts', dir], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`child exited ${code}`)));
      });
      return Number(line);
    };
    const [p1, p2] = await Promise.all([startChild(), startChild()]);
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      for (const port of [p1, p2]) statuses.push((await fetch(`http://127.0.0.1:${port}/limited`)).status);
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(6);
  }, 30_000);
});

describe('Gates: token masking', () => {
  it('masks ids on the way out and unmasks them on the way in; tampered or foreign tokens get 401', async () => {
    const { portal, url } = makePortalStarted();
    const seen: string[] = [];
    portal.endpoint(
      '/login',
      {
        gate: { auth: 'none', payloadAuthTokenKey: 'userId' },
        input: z.object({ name: z.string() }),
        output: z.object({ userId: z.string(), scopes: z.array(z.string()) }),
      },
      () => ({ userId: '42', scopes: ['notes:read'] }),
    );
    portal.endpoint(
      '/profile',
      { gate: { auth: 'none', payloadAuthTokenKey: 'userId' }, input: z.object({ userId: z.string() }) },
      ({ input }) => {
        seen.push(input.userId);
        return { ok: true };
      },
    );
    await portal.run({ port: 0 });
    const login = await (await postRaw(url('/login'), JSON.stringify({ name: 'ann' }))).json();
    expect(login.userId).not.toBe('42');
    expect(login.userId.split('.')).toHaveLength(3);
    expect((await portal.tokens.verify(login.userId)).scopes).toEqual(['notes:read']);
    expect((await postRaw(url('/profile'), JSON.stringify({ userId: login.userId }))).status).toBe(200);
    expect(seen).toEqual(['42']);

    const t: string = login.userId;
    const i = t.lastIndexOf('.') + 5;
    const tampered = t.slice(0, i) + (t[i] === 'A' ? 'B' : 'A') + t.slice(i + 1);
    await expectRejected(
      await postRaw(url('/profile'), JSON.stringify({ userId: tampered })),
      401,
      'ERR_AUTH_MASKED_TOKEN',
    );
    const foreign = await hs256({})
      .setExpirationTime('5m')
      .sign(enc.encode('a-completely-different-secret-0123456789'));
    await expectRejected(
      await postRaw(url('/profile'), JSON.stringify({ userId: foreign })),
      401,
      'ERR_AUTH_MASKED_TOKEN',
    );
    await expectRejected(
      await postRaw(url('/profile'), JSON.stringify({ userId: '42' })),
      401,
      'ERR_AUTH_MASKED_TOKEN',
    );
    await expectRejected(await postRaw(url('/profile'), JSON.stringify({ userId: 42 })), 401, 'ERR_AUTH_MASKED_TOKEN');
    expect(seen).toEqual(['42']);
  });
});

describe('Gates: CORS', () => {
  it('echoes only allowed origins exactly, with Vary, and answers preflights', async () => {
    const { portal, url } = (() => {
      const made = makePortal({ cors: { origins: ['https://app.example.com'], credentials: true } });
      cleanups.push(made.stop);
      return made;
    })();
    portal.endpoint('/api/x', { method: 'GET', gate: { auth: 'none' } }, () => ({ ok: true }));
    await portal.run({ port: 0 });
    const evil = await fetch(url('/api/x'), { headers: { origin: 'https://evil.example.com' } });
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    const lookalike = await fetch(url('/api/x'), { headers: { origin: 'https://app.example.com.evil.io' } });
    expect(lookalike.headers.get('access-control-allow-origin')).toBeNull();
    const good = await fetch(url('/api/x'), { headers: { origin: 'https://app.example.com' } });
    expect(good.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(good.headers.get('access-control-allow-credentials')).toBe('true');
    expect(good.headers.get('vary')).toContain('Origin');
    const preflight = await fetch(url('/api/x'), {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-methods')).toContain('GET');
  });

  it("refuses '*' with credentials at construction", () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    expect(
      () =>
        new ServicePortal({
          dataDir: dir,
          overload: false,
          auth: { secret: TEST_SECRET },
          cors: { origins: ['*'], credentials: true },
        }),
    ).toThrow(/cannot be combined with credentials/);
    expect(
      () =>
        new ServicePortal({
          overload: false,
          dataDir: dir,
          auth: { secret: TEST_SECRET },
          cors: { origins: ['https://app.example.com/'] },
        }),
    ).toThrow(/exactly/);
  });
});

describe('Gates: token lifetimes', () => {
  it('reads a numeric ttl as seconds from now', async () => {
    const { portal } = makePortalStarted();
    const token = await portal.tokens.issue({ sub: '1', ttl: 120 });
    const { claims } = await portal.tokens.verify(token);
    const exp = Number(claims?.exp);
    expect(exp - now()).toBeGreaterThan(110);
    expect(exp - now()).toBeLessThanOrEqual(120);
    await expect(portal.tokens.issue({ sub: '1', ttl: -5 })).rejects.toThrow(/positive number of seconds/);
  });
});
