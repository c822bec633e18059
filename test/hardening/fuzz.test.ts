import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CryptoError, Database, DatabaseError, Fernet, z } from '../../src/index.js';
import { parseJsonSafe } from '../../src/servers/pipeline/index.js';
import { makePortal, tempDir } from '../helpers.js';
import { startRealtime, type RealtimeFixture } from '../realtime/helpers.js';

// Seeded and bounded: `npm test` stays fast and repeatable; `npm run fuzz` raises FUZZ_RUNS.
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);
const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const params = (runs: number): fc.Parameters<unknown> => ({ numRuns: runs, seed: SEED, endOnFailure: true });

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);
const OBJECT_PROTO_KEYS = Object.getOwnPropertyNames(Object.prototype).sort();

const key = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype') },
  { weight: 5, arbitrary: fc.string({ maxLength: 8 }) },
);

/** JSON-like trees whose keys are often forbidden, nested (sometimes deeply). */
const tree: fc.Arbitrary<unknown> = fc.letrec<{ node: unknown }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.boolean(), fc.constant(null)),
    fc.array(tie('node'), { maxLength: 4 }),
    fc.array(fc.tuple(key, tie('node')), { maxLength: 5 }).map((pairs) => {
      const o: Record<string, unknown> = {};
      // defineProperty: a literal `__proto__` key must be an own key, as JSON.parse makes it.
      for (const [k, v] of pairs)
        Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
      return o;
    }),
  ),
})).node;

/** Serialise with some key characters written as \uXXXX escapes (every spelling the parser accepts). */
function toJson(value: unknown, escapeMask: number): string {
  let i = 0;
  const esc = (s: string): string => {
    let out = '"';
    for (const ch of s) {
      const code = ch.codePointAt(0)!;
      if (code < 0x10000 && ((escapeMask >> (i++ % 31)) & 1) === 1) out += `\\u${code.toString(16).padStart(4, '0')}`;
      else out += JSON.stringify(ch).slice(1, -1);
    }
    return out + '"';
  };
  const walk = (v: unknown): string => {
    if (v === null || typeof v !== 'object') return JSON.stringify(v);
    if (Array.isArray(v)) return `[${v.map(walk).join(',')}]`;
    return `{${Object.keys(v)
      .map((k) => `${esc(k)}:${walk((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  };
  return walk(value);
}

/** Wrap a tree `depth` levels deep (past any recursion limit a walk might have). */
function nest(value: unknown, depth: number): unknown {
  let v = value;
  for (let d = 0; d < depth; d++) v = { n: v };
  return v;
}

function forbiddenPaths(value: unknown): string[] {
  const found: string[] = [];
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    for (const k of Object.keys(v)) {
      if (FORBIDDEN.has(k)) found.push(k);
      stack.push((v as Record<string, unknown>)[k]);
    }
  }
  return found;
}

function withoutForbidden(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(withoutForbidden);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value))
    if (!FORBIDDEN.has(k)) out[k] = withoutForbidden((value as Record<string, unknown>)[k]);
  return out;
}

function prototypesClean(): void {
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(OBJECT_PROTO_KEYS);
  expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
}

describe('Fuzz: JSON parser', () => {
  it('never lets a forbidden key through, in any escape spelling or depth, and keeps everything else', () => {
    fc.assert(
      fc.property(
        tree,
        fc.integer({ min: 0, max: 0x7fffffff }),
        fc.constantFrom(0, 1, 300, 2000),
        (value, mask, depth) => {
          const text = toJson(nest(value, depth), mask);
          const parsed = parseJsonSafe(text);
          expect(forbiddenPaths(parsed)).toEqual([]);
          expect(parsed).toEqual(withoutForbidden(JSON.parse(text)));
          prototypesClean();
        },
      ),
      params(RUNS * 10),
    );
  });

  it('rejects malformed text with an error, never a hang or a polluted prototype', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        let ok = true;
        try {
          parseJsonSafe(text);
        } catch (err) {
          ok = false;
          expect(err).toBeInstanceOf(SyntaxError);
        }
        expect(typeof ok).toBe('boolean');
        prototypesClean();
      }),
      params(RUNS * 10),
    );
  });
});

describe('Fuzz: HTTP parsers (JSON body, form, query, headers)', () => {
  let made: ReturnType<typeof makePortal>;
  const seen: unknown[] = [];
  const stored: string[] = [];
  beforeAll(async () => {
    made = makePortal();
    made.portal.endpoint(
      '/any',
      { method: ['POST', 'GET'], description: 'Anything', gate: { auth: 'none' } },
      ({ input }) => {
        seen.push(input);
        stored.push(JSON.stringify(input));
        return { ok: true };
      },
    );
    made.portal.endpoint(
      '/typed',
      { description: 'Typed', gate: { auth: 'bearer' }, input: z.object({ name: z.string().max(20) }) },
      ({ input }) => {
        seen.push(input);
        stored.push(JSON.stringify(input));
        return { ok: true };
      },
    );
    await made.start();
  });
  afterAll(async () => {
    await made.stop();
  });

  const send = (path: string, init: RequestInit): Promise<Response> => fetch(made.url(path), init);

  it('JSON bodies: 200 or a clear 4xx, and what reaches the handler and the store has no forbidden key', async () => {
    await fc.assert(
      fc.asyncProperty(
        tree,
        fc.integer({ min: 0, max: 0x7fffffff }),
        fc.constantFrom(0, 300),
        async (value, mask, depth) => {
          const before = stored.length;
          const res = await send('/any', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: toJson(nest(value, depth), mask),
          });
          expect([200, 400]).toContain(res.status);
          await res.arrayBuffer();
          expect(stored.length).toBe(res.status === 200 ? before + 1 : before);
          for (const s of stored.slice(before)) expect(forbiddenPaths(JSON.parse(s))).toEqual([]);
          prototypesClean();
        },
      ),
      params(RUNS),
    );
    for (const input of seen) expect(forbiddenPaths(input)).toEqual([]);
  }, 120_000);

  it('forms and query strings: forbidden keys in any percent-encoding never arrive', async () => {
    const pct = (s: string, mask: number): string =>
      [...s]
        .map((ch, i) =>
          ((mask >> (i % 31)) & 1) === 1
            ? `%${ch.charCodeAt(0).toString(16).padStart(2, '0')}`
            : encodeURIComponent(ch),
        )
        .join('');
    const pairs = fc.array(fc.tuple(key, fc.string({ maxLength: 6 }), fc.integer({ min: 0, max: 0x7fffffff })), {
      maxLength: 6,
    });
    await fc.assert(
      fc.asyncProperty(pairs, fc.boolean(), async (list, asForm) => {
        const text = list
          .map(
            ([k, v, m]) => `${/^[\x20-\x7e]*$/.test(k) ? pct(k, m) : encodeURIComponent(k)}=${encodeURIComponent(v)}`,
          )
          .join('&');
        const before = seen.length;
        const res = asForm
          ? await send('/any', {
              method: 'POST',
              headers: { 'content-type': 'application/x-www-form-urlencoded' },
              body: text,
            })
          : await send(`/any?${text}`, { method: 'GET' });
        expect(res.status).toBe(200);
        await res.arrayBuffer();
        expect(seen.length).toBe(before + 1);
        expect(forbiddenPaths(seen[seen.length - 1])).toEqual([]);
        prototypesClean();
      }),
      params(RUNS),
    );
  }, 120_000);

  it('Authorization and X-Request-Id headers: garbage is a 401 (or a fresh request id), never a 500 or a handler run', async () => {
    const headerValue = fc.string({ maxLength: 60 }).map((s) => s.replace(/[^\x20-\x7e]/g, 'x'));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('Bearer ', 'Basic ', 'bearer ', '', 'Token '),
        headerValue,
        headerValue,
        async (scheme, value, requestId) => {
          const before = seen.length;
          const res = await send('/typed', {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              authorization: `${scheme}${value}`,
              'x-request-id': requestId,
            },
            body: '{"name":"n"}',
          });
          expect(res.status).toBe(401);
          expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
          const id = res.headers.get('x-request-id')!;
          expect(id === requestId || /^[0-9a-f-]{36}$/.test(id)).toBe(true);
          expect(id).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
          expect(((await res.json()) as { code: string }).code).toMatch(/^ERR_AUTH_/);
          expect(seen.length).toBe(before);
        },
      ),
      params(RUNS),
    );
  }, 120_000);
});

describe('Fuzz: socket payloads', () => {
  let f: RealtimeFixture;
  const seen: unknown[] = [];
  beforeAll(async () => {
    f = await startRealtime({ websocket: { eventsPerSecond: 10_000, eventsPerSecondPerUser: 10_000 } });
    f.portal.onEvent('any', { description: 'No schema' }, ({ input }) => {
      seen.push(input);
      return { ok: true };
    });
  });
  afterAll(async () => {
    await f.stop();
  });

  it('every payload reaches the handler without forbidden keys, and the ack is ok', async () => {
    const s = await f.connect(await f.token('fuzzer'));
    await fc.assert(
      fc.asyncProperty(tree, fc.constantFrom(0, 1, 300), async (value, depth) => {
        const before = seen.length;
        // socket.io-client writes with JSON.stringify: an own `__proto__` key goes over the wire as written.
        expect(await s.emitWithAck('any', nest(value, depth))).toEqual({ ok: true });
        expect(seen.length).toBe(before + 1);
        expect(forbiddenPaths(seen[seen.length - 1])).toEqual([]);
        expect(seen[seen.length - 1]).toEqual(withoutForbidden(JSON.parse(JSON.stringify(nest(value, depth)))));
        prototypesClean();
      }),
      params(RUNS),
    );
  }, 120_000);
});

describe('Fuzz: Fernet decoder and Database identifiers', () => {
  it('Fernet: random and mutated tokens fail with the one ERR_FERNET_INVALID, never another error', () => {
    const f = new Fernet(Fernet.generateKey());
    const good = f.encrypt('secret');
    const token = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc
        .tuple(fc.nat({ max: good.length - 1 }), fc.constantFrom('A', 'B', '-', '_', '=', '!'))
        .map(([i, c]) => good.slice(0, i) + c + good.slice(i + 1)),
      fc.nat({ max: good.length - 1 }).map((i) => good.slice(0, i)),
    );
    fc.assert(
      fc.property(token, (t) => {
        fc.pre(t !== good);
        let code: string | undefined;
        try {
          f.decrypt(t);
        } catch (err) {
          expect(err).toBeInstanceOf(CryptoError);
          code = (err as CryptoError).code;
        }
        // A one-character change can land on base64 padding bits and decode to the same bytes: then it opens.
        if (code === undefined) expect(f.decrypt(t).toString()).toBe('secret');
        else expect(code).toBe('ERR_FERNET_INVALID');
        prototypesClean();
      }),
      params(RUNS * 5),
    );
  });

  it('Database: hostile table and column names and col::path specs never reach SQL, and the table is intact', async () => {
    const { dir, cleanup } = tempDir('gatehouse-fuzz-db-');
    const db = new Database({ path: path.join(dir, 'app.db'), tables: { docs: 'id INTEGER PRIMARY KEY, body JSON' } });
    try {
      db.insert('docs', { id: 1, body: { a: 1 } });
      const name = fc.oneof(
        fc.string({ maxLength: 20 }),
        fc.constantFrom('docs; DROP TABLE docs', 'docs"--', 'body::a.b', '__proto__', 'a'.repeat(200), 'docs\u0000'),
      );
      fc.assert(
        fc.property(name, name, (table, column) => {
          let code: string | undefined;
          try {
            db.insert(table, { [column]: 1 });
          } catch (err) {
            expect(err).toBeInstanceOf(DatabaseError);
            code = (err as DatabaseError).code;
          }
          if (code === undefined) {
            // Only a valid existing table and column could be written; this fuzz never names one.
            expect(table).toBe('docs');
          } else {
            expect([
              'ERR_DB_IDENTIFIER',
              'ERR_DB_NO_TABLE',
              'ERR_DB_NO_COLUMN',
              'ERR_DB_QUERY',
              'ERR_DB_CONSTRAINT',
            ]).toContain(code);
          }
          expect(db.count('docs')).toBe(1);
          prototypesClean();
        }),
        params(RUNS * 5),
      );
      expect(db.query('SELECT id, body FROM docs')).toEqual([{ id: 1, body: '{"a":1}' }]);
    } finally {
      await db.close();
      cleanup();
    }
  });
});
