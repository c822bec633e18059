import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Database } from '../../src/index.js';
import { makePortal, postRaw, tempDir } from '../helpers.js';
import { startRealtime, type RealtimeFixture } from '../realtime/helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const FORBIDDEN = ['__proto__', 'constructor', 'prototype'];

/** Every key anywhere in a value (own enumerable keys of objects, through arrays). */
function allKeys(value: unknown): string[] {
  const out: string[] = [];
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    for (const k of Object.keys(v)) {
      out.push(k);
      stack.push((v as Record<string, unknown>)[k]);
    }
  }
  return out;
}

function deep(depth: number, leaf: string): string {
  return '{"a":'.repeat(depth) + leaf + '}'.repeat(depth);
}

function assertPrototypesClean(): void {
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(
    [
      '__defineGetter__',
      '__defineSetter__',
      '__lookupGetter__',
      '__lookupSetter__',
      '__proto__',
      'constructor',
      'hasOwnProperty',
      'isPrototypeOf',
      'propertyIsEnumerable',
      'toLocaleString',
      'toString',
      'valueOf',
    ].sort(),
  );
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
}

async function storingPortal() {
  const { dir, cleanup } = tempDir('gatehouse-fk-');
  const db = new Database({ path: path.join(dir, 'app.db'), tables: { docs: 'id INTEGER PRIMARY KEY, body JSON' } });
  db.insert('docs', { id: 1, body: { keep: true } });
  const made = makePortal();
  const seen: unknown[] = [];
  made.portal.endpoint('/store', { description: 'Stores the body' }, ({ input }) => {
    seen.push(input);
    db.insert('docs', { body: input as Record<string, unknown> });
    return { ok: true };
  });
  made.portal.endpoint(
    '/q',
    { method: 'GET', description: 'Echoes the query', gate: { auth: 'none' } },
    ({ input }) => {
      seen.push(input);
      return { keys: Object.keys(input as object) };
    },
  );
  await made.start();
  cleanups.push(async () => {
    await made.stop();
    await db.close();
    cleanup();
  });
  const token = await made.portal.tokens.issue({ sub: 'u1' });
  return { ...made, db, seen, token };
}

describe('Hardening: forbidden keys', () => {
  it('removes escaped and deeply nested constructor/prototype/__proto__ keys from JSON bodies before the handler', async () => {
    const { url, db, seen, token } = await storingPortal();
    const bodies = [
      '{"\\u0063onstructor":{"\\u0070rototype":{"polluted":1}},"x":1}',
      '{"\\u005f_proto__":{"polluted":1},"x":1}',
      '{"a":[{"__proto__":{"polluted":1}},{"con\\u0073tructor":{"prototype":{"polluted":1}}}],"x":1}',
      deep(300, '{"constructor":{"prototype":{"polluted":1}},"x":1}'),
      deep(600, '{"\\u0070rototype":{"polluted":1}}'),
    ];
    for (const body of bodies) {
      const res = await postRaw(url('/store'), body, 'application/json', { authorization: `Bearer ${token}` });
      expect(res.status).toBe(200);
    }
    expect(seen).toHaveLength(bodies.length);
    for (const input of seen) for (const k of FORBIDDEN) expect(allKeys(input)).not.toContain(k);
    // What was stored is what arrived minus the forbidden keys: nothing else lost.
    const stored = db.query<{ id: number; body: string }>('SELECT id, body FROM docs ORDER BY id');
    expect(stored).toHaveLength(1 + bodies.length);
    expect(JSON.parse(stored[0]!.body)).toEqual({ keep: true });
    expect(JSON.parse(stored[1]!.body)).toEqual({ x: 1 });
    expect(JSON.parse(stored[3]!.body)).toEqual({ a: [{}, {}], x: 1 });
    for (const row of stored) for (const k of FORBIDDEN) expect(row.body).not.toContain(`"${k}"`);
    assertPrototypesClean();
  });

  it('removes forbidden keys from forms and query strings in any encoding', async () => {
    const { url, seen, token } = await storingPortal();
    const form = await postRaw(
      url('/store'),
      '%5F_proto__=1&constructor=2&prot%6Ftype=3&ok=4',
      'application/x-www-form-urlencoded',
      { authorization: `Bearer ${token}` },
    );
    expect(form.status).toBe(200);
    const q = await fetch(url('/q?__proto__=1&%63onstructor=2&prototype=3&ok=4'));
    expect(q.status).toBe(200);
    expect(await q.json()).toEqual({ keys: ['ok'] });
    expect(seen).toHaveLength(2);
    for (const input of seen) expect(Object.keys(input as object)).toEqual(['ok']);
    assertPrototypesClean();
  });
});

describe('Hardening: forbidden keys in socket payloads', () => {
  let f: RealtimeFixture | undefined;
  afterEach(async () => {
    await f?.stop();
    f = undefined;
  });

  it('strips them from every event payload, schema or not, and from listeners attached through portal.io', async () => {
    f = await startRealtime();
    const seen: unknown[] = [];
    const store: unknown[] = [];
    f.portal.onEvent('save', { description: 'No schema' }, ({ input }) => {
      seen.push(input);
      store.push(structuredClone(input));
      return { ok: true };
    });
    const raw: unknown[] = [];
    f.portal.io.on('connection', (socket) =>
      socket.on('raw', (x: unknown, ack: (v: boolean) => void) => {
        raw.push(x);
        ack(true);
      }),
    );
    const s = await f.connect(await f.token('u1'));
    // socket.io-client serialises with JSON.stringify: an own "__proto__" key goes out as written.
    const hostile = JSON.parse(
      '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}},"list":[{"prototype":1,"v":2}],"x":1}',
    ) as unknown;
    expect(await s.emitWithAck('save', hostile)).toEqual({ ok: true });
    expect(await s.emitWithAck('save', JSON.parse(deep(400, '{"__proto__":{"polluted":1}}')))).toEqual({ ok: true });
    expect(await s.emitWithAck('raw', hostile)).toBe(true);
    expect(seen).toHaveLength(2);
    expect(seen[0]).toEqual({ list: [{ v: 2 }], x: 1 });
    for (const v of [...seen, ...raw]) for (const k of FORBIDDEN) expect(allKeys(v)).not.toContain(k);
    expect(store).toHaveLength(2);
    expect(store[0]).toEqual({ list: [{ v: 2 }], x: 1 });
    assertPrototypesClean();
  });
});
