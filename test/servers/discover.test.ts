import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { GatehouseError, z } from '../../src/index.js';
import type { ServicePortal } from '../../src/index.js';
// defineEndpoint is exported from the servers capability; the public entry (src/index.ts) re-exports it.
import { defineEndpoint } from '../../src/servers/index.js';
import { isEndpointDefinition } from '../../src/servers/internal.js';
import { makePortal, tempDir } from '../helpers.js';

const SERVERS = path.resolve(import.meta.dirname, '../../src/servers/index.ts');
const ZOD = path.resolve(import.meta.dirname, '../../src/index.ts');
const IMPORT = `import { defineEndpoint } from ${JSON.stringify(SERVERS)};\nimport { z } from ${JSON.stringify(ZOD)};\n`;

type Made = ReturnType<typeof makePortal>;
const cleanups: (() => void | Promise<void>)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A temp folder holding the given files (relative path -> source). */
function routesDir(files: Record<string, string>): string {
  const { dir, cleanup } = tempDir('gatehouse-discover-');
  cleanups.push(cleanup);
  for (const [rel, text] of Object.entries(files)) {
    const file = path.join(dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  }
  return dir;
}

function portal(): Made {
  const made = makePortal();
  cleanups.push(made.stop);
  return made;
}

async function refusal(promise: Promise<unknown>): Promise<GatehouseError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(GatehouseError);
    return err as GatehouseError;
  }
  throw new Error('expected discover() to reject');
}

/** The routes a portal serves, checked over real HTTP: status per `METHOD path`. */
async function statuses(made: Made, routes: [string, string][]): Promise<number[]> {
  const out: number[] = [];
  for (const [method, url] of routes) out.push((await fetch(made.url(url), { method })).status);
  return out;
}

const OPEN = `gate: { auth: 'none' }`;

const NESTED: Record<string, string> = {
  'notes/get.ts':
    IMPORT +
    `export default defineEndpoint({ path: '/api/notes/:id', method: 'GET', description: 'One note', ${OPEN},
      input: z.object({ id: z.coerce.number().int() }), output: z.object({ id: z.number(), title: z.string() }) },
      ({ input }) => ({ id: input.id, title: 'note ' + input.id }));\n`,
  'notes/write.ts':
    IMPORT +
    `const create = defineEndpoint({ path: '/api/notes', method: 'POST', description: 'Create', ${OPEN}, input: z.object({ title: z.string().min(1) }) },
      ({ input }) => ({ created: input.title }));
    export const update = defineEndpoint({ path: '/api/notes/:id', method: ['PUT', 'PATCH'], description: 'Update', ${OPEN}, input: z.object({ id: z.string() }) },
      ({ input }) => ({ updated: input.id }));
    // The same object exported twice counts once.
    export { create };
    export const all = [create, update];\n`,
  'admin/deep/er/index.ts':
    IMPORT +
    `export const routes = [
      defineEndpoint({ path: '/admin/b', method: 'GET', description: 'b', ${OPEN} }, () => ({ admin: 'b' })),
      defineEndpoint({ path: '/admin/a', method: 'GET', description: 'a', ${OPEN} }, () => ({ admin: 'a' })),
      'not an endpoint',
    ];\n`,
  'helpers.ts':
    // Exports that are not definitions are ignored, lookalikes included.
    `export const path = '/api/helper';
    export function handler() { return 1; }
    export const numbers = [1, 2, 3];
    export const lookalike = { path: '/api/lookalike', method: 'GET', config: {}, handler: () => ({}) };
    export default { path: '/api/lookalike2', handler: () => ({}) };\n`,
  'notes/get.test.ts': `throw new Error('test files must not be loaded');\n`,
  'notes/get.spec.ts': `throw new Error('spec files must not be loaded');\n`,
  'types.d.ts': `export declare const x: number;\nthrow new Error('declarations must not be loaded');\n`,
  '.hidden.ts': `throw new Error('dotfiles must not be loaded');\n`,
  '.hidden/inner.ts': `throw new Error('dot folders must not be loaded');\n`,
  'node_modules/pkg/index.js': `throw new Error('node_modules must not be loaded');\n`,
  'README.md': '# not a module\n',
};

describe('ServicePortal.discover', () => {
  it('registers the endpoints of nested .ts modules in a stable order and serves them over HTTP', async () => {
    const dir = routesDir(NESTED);
    const made = portal();
    const routes = await made.portal.discover(dir);
    expect(routes).toEqual([
      { method: 'GET', path: '/admin/b', file: 'admin/deep/er/index.ts', exportName: 'routes[0]' },
      { method: 'GET', path: '/admin/a', file: 'admin/deep/er/index.ts', exportName: 'routes[1]' },
      { method: 'GET', path: '/api/notes/:id', file: 'notes/get.ts', exportName: 'default' },
      // Export names sorted: `all` comes first and holds both definitions; `create` and `update` are the same objects.
      { method: 'POST', path: '/api/notes', file: 'notes/write.ts', exportName: 'all[0]' },
      { method: 'PUT', path: '/api/notes/:id', file: 'notes/write.ts', exportName: 'all[1]' },
      { method: 'PATCH', path: '/api/notes/:id', file: 'notes/write.ts', exportName: 'all[1]' },
    ]);
    await made.start();
    const note = await fetch(made.url('/api/notes/7'));
    expect(note.status).toBe(200);
    expect(await note.json()).toEqual({ id: 7, title: 'note 7' });
    const created = await fetch(made.url('/api/notes'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'hi' }),
    });
    expect(await created.json()).toEqual({ created: 'hi' });
    const bad = await fetch(made.url('/api/notes'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: '' }),
    });
    expect(bad.status).toBe(400);
    expect(await (await fetch(made.url('/api/notes/x1'), { method: 'PATCH' })).json()).toEqual({ updated: 'x1' });
    expect(await (await fetch(made.url('/admin/a'))).json()).toEqual({ admin: 'a' });
    expect(
      await statuses(made, [
        ['GET', '/admin/b'],
        ['GET', '/api/lookalike'],
        ['GET', '/api/lookalike2'],
        ['GET', '/api/helper'],
      ]),
    ).toEqual([200, 404, 404, 404]);
    // The discovered routes are in the OpenAPI document like any other endpoint.
    const doc = (await (await fetch(made.url('/openapi.json'))).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    expect(Object.keys(doc.paths['/api/notes/{id}'] ?? {}).sort()).toEqual(['get', 'patch', 'put']);
  });

  it('gives the same order on every run, sorted by relative path then export name', async () => {
    const files: Record<string, string> = {
      'b/a.ts':
        IMPORT +
        `export const z2 = defineEndpoint({ path: '/b-a-z2', ${OPEN} }, () => ({}));\nexport const a1 = defineEndpoint({ path: '/b-a-a1', ${OPEN} }, () => ({}));\n`,
      'b.ts': IMPORT + `export default defineEndpoint({ path: '/b', ${OPEN} }, () => ({}));\n`,
      'a/z.mjs': IMPORT + `export default defineEndpoint({ path: '/a-z', ${OPEN} }, () => ({}));\n`,
      'B.ts': IMPORT + `export default defineEndpoint({ path: '/B', ${OPEN} }, () => ({}));\n`,
    };
    const first = (await portal().portal.discover(routesDir(files))).map((r) => `${r.file}#${r.exportName}`);
    const second = (await portal().portal.discover(routesDir(files))).map((r) => `${r.file}#${r.exportName}`);
    expect(first).toEqual(['B.ts#default', 'a/z.mjs#default', 'b.ts#default', 'b/a.ts#a1', 'b/a.ts#z2']);
    expect(second).toEqual(first);
  });

  it('loads .js and .mjs modules too', async () => {
    const dir = routesDir({
      'one.js':
        IMPORT + `export default defineEndpoint({ path: '/js', method: 'GET', ${OPEN} }, () => ({ from: 'js' }));\n`,
      'sub/two.mjs':
        IMPORT +
        `export const two = [defineEndpoint({ path: '/mjs', method: 'GET', ${OPEN} }, () => ({ from: 'mjs' }))];\n`,
      'package.json': JSON.stringify({ type: 'module' }),
    });
    const made = portal();
    expect(await made.portal.discover(dir)).toEqual([
      { method: 'GET', path: '/js', file: 'one.js', exportName: 'default' },
      { method: 'GET', path: '/mjs', file: 'sub/two.mjs', exportName: 'two[0]' },
    ]);
    await made.start();
    expect(await (await fetch(made.url('/js'))).json()).toEqual({ from: 'js' });
    expect(await (await fetch(made.url('/mjs'))).json()).toEqual({ from: 'mjs' });
  });

  it('works in a plain Node process under tsx too (outside the test runner), for .js, .mjs and .ts modules', async () => {
    const routes = routesDir({
      'a.js':
        IMPORT + `export default defineEndpoint({ path: '/js', method: 'GET', ${OPEN} }, () => ({ from: 'js' }));\n`,
      'b/c.mjs':
        IMPORT +
        `export const c = defineEndpoint({ path: '/mjs', method: 'GET', ${OPEN} }, () => ({ from: 'mjs' }));\n`,
      'd.ts':
        IMPORT +
        `export default defineEndpoint({ path: '/ts', method: 'GET', ${OPEN}, input: z.object({ n: z.coerce.number() }) }, ({ input }) => ({ n: input.n + 1 }));\n`,
      'package.json': JSON.stringify({ type: 'module' }),
    });
    const main = path.join(routesDir({}), 'main.mjs');
    fs.writeFileSync(
      main,
      [
        `import { ServicePortal } from ${JSON.stringify(ZOD)};`,
        `const portal = new ServicePortal({ dataDir: process.argv[3], requestLog: false, enforce: 'warn', overload: false, auth: { secret: 'a-secret-that-is-long-enough-for-hs256-0123456789' } });`,
        'const routes = await portal.discover(process.argv[2]);',
        'await portal.run({ port: 0, handleSignals: false });',
        'const get = async (p) => (await fetch(`http://127.0.0.1:${portal.port}${p}`)).json();',
        "const bodies = [await get('/js'), await get('/mjs'), await get('/ts?n=41')];",
        'await portal.close();',
        "console.log('RESULT ' + JSON.stringify({ routes, bodies }));",
      ].join('\n'),
    );
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', main, routes, routesDir({})],
        { timeout: 45_000, env: { ...process.env, GATEHOUSE_LOG_LEVEL: 'silent' } },
        (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out)),
      );
    });
    const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
    expect(JSON.parse(line!.slice('RESULT '.length))).toEqual({
      routes: [
        { method: 'GET', path: '/js', file: 'a.js', exportName: 'default' },
        { method: 'GET', path: '/mjs', file: 'b/c.mjs', exportName: 'c' },
        { method: 'GET', path: '/ts', file: 'd.ts', exportName: 'default' },
      ],
      bodies: [{ from: 'js' }, { from: 'mjs' }, { n: 42 }],
    });
  });

  it('refuses a duplicate method and path, naming both files and exports, and registers nothing', async () => {
    const dir = routesDir({
      'fine.ts':
        IMPORT + `export default defineEndpoint({ path: '/fine', method: 'GET', ${OPEN} }, () => ({ ok: true }));\n`,
      'notes/list.ts':
        IMPORT +
        `export const list = defineEndpoint({ path: '/api/notes', method: ['GET', 'POST'], ${OPEN} }, () => ({}));\n`,
      'legacy/notes.ts':
        IMPORT + `export default defineEndpoint({ path: '/api/notes', method: 'POST', ${OPEN} }, () => ({}));\n`,
    });
    const made = portal();
    const err = await refusal(made.portal.discover(dir));
    expect(err.code).toBe('ERR_ENDPOINT_DUPLICATE');
    expect(err.message).toContain('POST /api/notes');
    expect(err.message).toContain('legacy/notes.ts (export default)');
    expect(err.message).toContain('notes/list.ts (export list)');
    expect(err.details).toEqual({
      route: 'POST /api/notes',
      files: ['legacy/notes.ts', 'notes/list.ts'],
      exports: ['default', 'list'],
    });
    await made.start();
    expect(
      await statuses(made, [
        ['GET', '/fine'],
        ['GET', '/api/notes'],
      ]),
    ).toEqual([404, 404]);
  });

  it('refuses a route already registered with portal.endpoint, naming the file', async () => {
    const dir = routesDir({
      'dup.ts':
        IMPORT +
        `export const again = defineEndpoint({ path: '/taken', method: 'GET', ${OPEN} }, () => ({ from: 'discover' }));\n`,
    });
    const made = portal();
    made.portal.endpoint('/taken', { method: 'GET', gate: { auth: 'none' } }, () => ({ from: 'endpoint' }));
    const err = await refusal(made.portal.discover(dir));
    expect(err.code).toBe('ERR_ENDPOINT_DUPLICATE');
    expect(err.message).toContain('dup.ts (export again)');
    await made.start();
    expect(await (await fetch(made.url('/taken'))).json()).toEqual({ from: 'endpoint' });
  });

  it('lets only one of two concurrent discoveries register the same route', async () => {
    const def = (from: string): string =>
      IMPORT +
      `export default defineEndpoint({ path: '/race', method: 'GET', ${OPEN} }, () => ({ from: '${from}' }));\n`;
    const made = portal();
    const results = await Promise.allSettled([
      made.portal.discover(routesDir({ 'a.ts': def('a') })),
      made.portal.discover(routesDir({ 'b.ts': def('b') })),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect((rejected.reason as GatehouseError).code).toBe('ERR_ENDPOINT_DUPLICATE');
    const winner = results.findIndex((r) => r.status === 'fulfilled') === 0 ? 'a' : 'b';
    await made.start();
    expect(await (await fetch(made.url('/race'))).json()).toEqual({ from: winner });
  });

  it('names the file when a module throws on import (or does not parse), and registers nothing', async () => {
    const made = portal();
    const throwing = routesDir({
      'a-fine.ts': IMPORT + `export default defineEndpoint({ path: '/fine', method: 'GET', ${OPEN} }, () => ({}));\n`,
      'broken/boom.ts': `throw new Error('database url missing');\n`,
    });
    const err = await refusal(made.portal.discover(throwing));
    expect(err.code).toBe('ERR_DISCOVER_IMPORT');
    expect(err.message).toContain('broken/boom.ts');
    expect(err.message).toContain('database url missing');
    expect((err.cause as Error).message).toBe('database url missing');
    const unparsable = routesDir({ 'syntax.js': `export const = ;\n` });
    const syntax = await refusal(made.portal.discover(unparsable));
    expect(syntax.code).toBe('ERR_DISCOVER_IMPORT');
    expect(syntax.message).toContain('syntax.js');
    await made.start();
    expect(await statuses(made, [['GET', '/fine']])).toEqual([404]);
  });

  it('names the file and export of a definition the portal cannot compile, registering nothing', async () => {
    const dir = routesDir({
      'a.ts': IMPORT + `export default defineEndpoint({ path: '/ok', method: 'GET', ${OPEN} }, () => ({}));\n`,
      'b.ts': IMPORT + `export const odd = defineEndpoint({ path: '/odd', method: 'FETCH', ${OPEN} }, () => ({}));\n`,
    });
    const made = portal();
    const err = await refusal(made.portal.discover(dir));
    expect(err.code).toBe('ERR_ENDPOINT_CONFIG');
    expect(err.message).toContain('b.ts (export odd)');
    expect(err.message).toContain('unsupported method FETCH');
    await made.start();
    expect(await statuses(made, [['GET', '/ok']])).toEqual([404]);
  });

  it('refuses a folder that does not exist or is a file', async () => {
    const made: { portal: ServicePortal } = portal();
    const missing = await refusal(made.portal.discover(path.join(routesDir({}), 'nope')));
    expect(missing.code).toBe('ERR_DISCOVER_DIR');
    const file = path.join(routesDir({ 'x.ts': '' }), 'x.ts');
    expect((await refusal(made.portal.discover(file))).code).toBe('ERR_DISCOVER_DIR');
    expect(await made.portal.discover(routesDir({ 'empty.ts': 'export {};\n' }))).toEqual([]);
  });
});

describe('defineEndpoint', () => {
  it('brands a frozen definition typed like portal.endpoint, and refuses a bad path or handler', () => {
    const def = defineEndpoint(
      {
        path: '/api/greet',
        method: 'POST',
        description: 'Greets',
        gate: { auth: 'none' },
        input: z.object({ name: z.string() }),
        output: z.object({ message: z.string() }),
      },
      ({ input }) => {
        expectTypeOf(input).toEqualTypeOf<{ name: string }>();
        // @ts-expect-error the input schema has no `age`
        void input.age;
        return { message: `Hello, ${input.name}!` };
      },
    );
    expect(isEndpointDefinition(def)).toBe(true);
    expect(isEndpointDefinition({ ...def })).toBe(true); // the brand is an own enumerable symbol, kept by spreads
    expect(isEndpointDefinition({ path: '/x', config: {}, handler: () => 1 })).toBe(false);
    expect(def.path).toBe('/api/greet');
    expect(def.config).not.toHaveProperty('path');
    expect(def.config.method).toBe('POST');
    expect(Object.isFrozen(def)).toBe(true);
    // @ts-expect-error a handler must return what the output schema accepts
    defineEndpoint({ path: '/typed', output: z.object({ n: z.number() }) }, () => ({ n: 'not a number' }));
    for (const bad of [
      () => defineEndpoint({ path: 'no-slash' }, () => 1),
      () => defineEndpoint({ path: '/x' }, 'nope' as never),
    ]) {
      let code: unknown;
      try {
        bad();
      } catch (err) {
        code = (err as GatehouseError).code;
      }
      expect(code).toBe('ERR_ENDPOINT_CONFIG');
    }
  });
});
