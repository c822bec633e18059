import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appRoot, checkTypeApp, emitDeclarations, writeTypeApp, type TypeCheckRun } from './type-app.js';

const ROUTES = 200;
/** API.md 15: a 200-route routes object type-checks in a strict app in under 10 s on this machine. */
const LIMIT_MS = 10_000;

describe('type performance of route definitions and the typed client', () => {
  let root: string;
  let cleanup: () => void;
  let lib: string;

  beforeAll(async () => {
    ({ dir: root, cleanup } = appRoot());
    await emitDeclarations(root);
    lib = path.join(root, 'lib');
  }, 180_000);
  afterAll(() => cleanup());

  it(`type-checks a strict app with ${ROUTES} routes, a portal registering them and a typed caller, in under 10 s, never "excessively deep"`, async () => {
    writeTypeApp(path.join(root, 'one'), 1, lib);
    writeTypeApp(path.join(root, 'many'), ROUTES, lib);
    const one: TypeCheckRun = await checkTypeApp(path.join(root, 'one'));
    const many: TypeCheckRun = await checkTypeApp(path.join(root, 'many'));
    const line = (n: number, r: TypeCheckRun): string =>
      `${n} route(s): cpu ${Math.round(r.cpuMs)} ms, wall ${Math.round(r.wallMs)} ms, check ${r.checkSec} s, ${r.instantiations} instantiations`;
    console.log(`[types] ${line(1, one)}\n[types] ${line(ROUTES, many)}`);
    expect(one.errors).toBe('');
    expect(many.errors).toBe(''); // no TS2589 "excessively deep", no error at all
    // CPU time, not wall time: the machine is shared, and a busy neighbour must not fail this test.
    expect(many.cpuMs).toBeLessThan(LIMIT_MS);
    // Flat types: the cost per route stays a small constant (measured near 1,500 instantiations per route).
    expect((many.instantiations - one.instantiations) / (ROUTES - 1)).toBeLessThan(2_000);
  }, 300_000);
});
