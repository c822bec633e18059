import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GatehouseError } from '../../src/index.js';
import { makePortal, tempDir } from '../helpers.js';

const SERVERS = path.resolve(import.meta.dirname, '../../src/servers/index.ts');
const ZOD = path.resolve(import.meta.dirname, '../../src/index.ts');
const IMPORT = `import { defineEndpoint } from ${JSON.stringify(SERVERS)};\nimport { z } from ${JSON.stringify(ZOD)};\n`;
const GOOD = `${IMPORT}export default defineEndpoint({ path: '/api/good', method: 'GET', description: 'Good', input: z.object({}), gate: { auth: 'none' } }, () => ({ ok: true }));\n`;

describe('Hardening: route discovery facing hostile modules', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function folder(files: Record<string, string>): string {
    const { dir, cleanup } = tempDir('gatehouse-hardening-discover-');
    cleanups.push(cleanup);
    for (const [rel, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, rel), text);
    return dir;
  }

  async function refusal(promise: Promise<unknown>): Promise<GatehouseError> {
    const err = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GatehouseError);
    return err as GatehouseError;
  }

  for (const [name, source] of [
    [
      'a Proxy that throws on every read',
      `export default new Proxy({}, { get() { throw new Error('boom from a proxy'); } });\n`,
    ],
    [
      'an array Proxy that throws',
      `export const routes = new Proxy([], { get(t, k) { if (k === 'length') return 1; throw new Error('boom from an array'); } });\n`,
    ],
    ['a revoked Proxy', `const { proxy, revoke } = Proxy.revocable({}, {}); revoke();\nexport const x = proxy;\n`],
    [
      'a throwing getter on a definition-like object',
      `export const x = { get [Symbol.for('x')]() { return 1; } };\nObject.defineProperty(x, 'config', { get() { throw new Error('getter'); } });\nexport default new Proxy(x, { get() { throw new TypeError('trap'); } });\n`,
    ],
  ] as const) {
    it(`wraps ${name} in ERR_DISCOVER_IMPORT naming the file, and registers nothing`, async () => {
      const dir = folder({ 'a-good.mjs': GOOD, 'hostile.mjs': source });
      const made = makePortal();
      cleanups.push(made.stop);
      await made.start();
      const err = await refusal(made.portal.discover(dir));
      expect(err.code).toBe('ERR_DISCOVER_IMPORT');
      expect(err.message).toContain('hostile.mjs');
      expect(err.details).toEqual({ file: path.join(dir, 'hostile.mjs') });
      // Nothing from the folder was registered, not even the good module read before.
      expect((await fetch(made.url('/api/good'))).status).toBe(404);
      expect((await fetch(made.url('/health'))).status).toBe(200);
    });
  }

  it('skips *.test.* and *.spec.* in any letter case', async () => {
    const boom = `throw new Error('a test file was loaded');\n`;
    const dir = folder({
      'a-good.mjs': GOOD,
      'x.TEST.mjs': boom,
      'y.Spec.js': boom,
      'z.test.MJS': boom,
      'w.SPEC.ts': boom,
    });
    const made = makePortal();
    cleanups.push(made.stop);
    await made.start();
    const routes = await made.portal.discover(dir);
    expect(routes.map((r) => r.file)).toEqual(['a-good.mjs']);
    expect((await fetch(made.url('/api/good'))).status).toBe(200);
  });
});
