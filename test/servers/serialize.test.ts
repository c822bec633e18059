import { get } from 'node:http';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z, type ZodType } from 'zod';
import { compileSerializer } from '../../src/servers/pipeline/serialize.js';
import { JSON_CSP } from '../../src/servers/security-headers.js';
import { makePortal } from '../helpers.js';

/** What the output step did before the serializer: validate with zod, then stringify zod's output. */
function reference(schema: ZodType, value: unknown): string | undefined {
  const r = schema.safeParse(value);
  return r.success ? JSON.stringify(r.data) : undefined;
}

enum Color {
  Red,
  Green,
}
const item = z.object({ id: z.number().int(), tag: z.enum(['a', 'b']), note: z.string().nullable() });
const COMPILED: Record<string, ZodType> = {
  flat: z.object({ message: z.string(), count: z.number() }),
  nested: z.object({ user: z.object({ name: z.string(), admin: z.boolean() }), items: z.array(item) }),
  optional: z.object({ a: z.string().optional(), b: z.number().int().optional(), c: z.null() }),
  literal: z.object({ kind: z.literal('note'), n: z.literal(3), ok: z.literal(true) }),
  list: z.array(z.object({ x: z.number() })),
};

// Values near the schemas' shapes (right, wrong and extra fields), plus anything at all.
const near = fc.oneof(
  fc.anything(),
  fc.record(
    {
      message: fc.oneof(fc.string(), fc.integer(), fc.constant(undefined)),
      count: fc.oneof(fc.double(), fc.integer(), fc.string()),
      extra: fc.anything(),
      user: fc.record({ name: fc.string(), admin: fc.oneof(fc.boolean(), fc.string()), secret: fc.string() }),
      items: fc.array(
        fc.record({
          id: fc.oneof(fc.integer(), fc.double(), fc.constant(2 ** 60)),
          tag: fc.constantFrom('a', 'b', 'c'),
          note: fc.oneof(fc.string(), fc.constant(null), fc.constant(undefined)),
          hidden: fc.string(),
        }),
      ),
      a: fc.oneof(fc.string(), fc.constant(undefined)),
      b: fc.oneof(fc.integer(), fc.double(), fc.constant(undefined)),
      c: fc.oneof(fc.constant(null), fc.constant(0)),
      kind: fc.constantFrom('note', 'other'),
      n: fc.constantFrom(3, 4),
      ok: fc.boolean(),
    },
    { requiredKeys: [] },
  ),
  fc.array(fc.record({ x: fc.oneof(fc.double(), fc.string()), y: fc.string() }, { requiredKeys: [] })),
);

describe('compileSerializer', () => {
  for (const [name, schema] of Object.entries(COMPILED)) {
    it(`writes exactly what zod would output, or refuses what zod refuses (${name})`, () => {
      const serialize = compileSerializer(schema);
      expect(serialize).toBeDefined();
      fc.assert(
        fc.property(near, (value) => {
          expect(serialize!(value)).toBe(reference(schema, value));
        }),
        { numRuns: 2000 },
      );
    });
  }

  it("takes a native enum's values as zod does: a member's name is not one of them", () => {
    const schema = z.object({ color: z.enum(Color) });
    const serialize = compileSerializer(schema)!;
    expect(serialize({ color: Color.Green })).toBe('{"color":1}');
    // A TypeScript numeric enum object also maps 0 -> 'Red': zod refuses 'Red', so the serializer must too.
    expect(serialize({ color: 'Red' })).toBeUndefined();
    expect(reference(schema, { color: 'Red' })).toBeUndefined();
  });

  it('leaves to zod every schema whose checks it does not make itself', () => {
    for (const schema of [
      z.object({ name: z.string().min(1) }),
      z.object({ n: z.number().positive() }),
      z.object({ s: z.string().transform((s) => s.length) }),
      z.object({ s: z.string().default('x') }),
      z.object({ s: z.string() }).refine(() => true),
      z.strictObject({ s: z.string() }),
      z.looseObject({ s: z.string() }),
      z.object({ d: z.date() }),
      z.string(),
    ]) {
      expect(compileSerializer(schema)).toBeUndefined();
    }
  });
});

describe('Output serialization on the wire', () => {
  it('sends declared fields only, through the serializer and through zod alike, with the JSON security headers', async () => {
    const { portal, url, start, stop } = makePortal();
    try {
      const result = { message: 'hi', count: 2, secret: 'never sent' };
      const fast = z.object({ message: z.string(), count: z.number() });
      const checked = z.object({ message: z.string().min(1), count: z.number().positive() });
      const opts = { method: 'GET', description: 'out', gate: { auth: 'none' } } as const;
      portal.endpoint('/fast', { ...opts, output: fast }, () => result);
      portal.endpoint('/checked', { ...opts, output: checked }, () => result);
      portal.endpoint('/wrong', { ...opts, output: fast }, () => ({ message: 1, count: 2 }) as never);
      portal.app.get('/page', (_req, res) => {
        res.send('<p>page</p>');
      });
      await start();
      for (const path of ['/fast', '/checked']) {
        const res = await fetch(url(path));
        expect(res.status).toBe(200);
        expect(await res.text()).toBe('{"message":"hi","count":2}');
        expect(res.headers.get('content-security-policy')).toBe(JSON_CSP);
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
        expect(res.headers.get('referrer-policy')).toBeNull();
      }
      // The portal's own names go out in lower case (node spends less on them), values as helmet makes them.
      const raw = await new Promise<string[]>((resolve, reject) =>
        get(url('/fast'), (res) => {
          res.resume();
          resolve(res.rawHeaders);
        }).on('error', reject),
      );
      const names = raw.filter((_, i) => i % 2 === 0);
      for (const name of ['content-security-policy', 'x-content-type-options', 'x-request-id', 'content-type'])
        expect(names).toContain(name);
      expect(raw[raw.indexOf('x-content-type-options') + 1]).toBe('nosniff');
      const wrong = await fetch(url('/wrong'));
      expect(wrong.status).toBe(500);
      expect(await wrong.text()).not.toContain('"message":1');
      // A page (an express route) keeps helmet's whole set.
      const page = await fetch(url('/page'));
      expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(page.headers.get('referrer-policy')).toBe('no-referrer');
      expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    } finally {
      await stop();
    }
  });
});
