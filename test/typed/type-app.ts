/**
 * Generates a strict TypeScript app with N routes (a routes object of `defineEndpoint` values, registered on a
 * portal, and a caller using `createClient<typeof routes>` on every route) and type-checks it with tsc, for the
 * type-performance test and `npm run bench:types`.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
/** A preload that prints the process's CPU time (user, system; microseconds) when it exits. */
const CPU_REPORT = `data:text/javascript,${encodeURIComponent(
  "process.on('exit', () => { const u = process.cpuUsage(); process.stderr.write('CPU_USAGE ' + u.user + ' ' + u.system + '\\n'); });",
)}`;

/**
 * A fresh folder for generated apps inside the repository (under the ignored `.tmp/`), so the declarations'
 * own imports (`zod`, `express`, ...) resolve from the repository's node_modules as an installed package's do.
 */
export function appRoot(): { dir: string; cleanup: () => void } {
  fs.mkdirSync(path.join(ROOT, '.tmp'), { recursive: true });
  const dir = fs.mkdtempSync(path.join(ROOT, '.tmp', 'type-app-'));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Emit gatehouse's declarations (`.d.ts`, as the published package ships them) into `outDir`, so the app is
 * checked the way a user's app is: against declarations, with `skipLibCheck`.
 */
export function emitDeclarations(outDir: string): Promise<void> {
  const config = path.join(outDir, 'tsconfig.decl.json');
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(
    config,
    JSON.stringify({
      extends: path.join(ROOT, 'tsconfig.json'),
      compilerOptions: {
        declaration: true,
        emitDeclarationOnly: true,
        sourceMap: false,
        noEmit: false,
        rootDir: path.join(ROOT, 'src'),
        outDir: path.join(outDir, 'lib'),
      },
      include: [path.join(ROOT, 'src')],
    }),
  );
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [TSC, '-p', config], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout) =>
      err ? reject(new Error(`declaration emit failed: ${stdout}`)) : resolve(),
    );
  });
}

function route(i: number): string {
  const kind = i % 4;
  const path = kind === 0 ? `/api/r${i}/:id` : `/api/r${i}`;
  const method = kind === 0 ? 'GET' : kind === 3 ? 'PUT' : 'POST';
  const gate =
    kind === 1
      ? `{ auth: 'none' }`
      : kind === 2
        ? `{ scopes: ['r${i}:write'], idempotency: { ttlSec: 60 } }`
        : `{ scopes: ['r${i}:read'] }`;
  const input =
    kind === 0
      ? `z.object({ id: z.coerce.number().int(), q${i}: z.string().optional() })`
      : `z.object({ name${i}: z.string().min(1), count: z.number().int(), tags: z.array(z.string()), mode: z.enum(['a', 'b']), meta: z.object({ note: z.string().optional() }) })`;
  const output = `z.object({ id${i}: z.number(), label: z.string(), items: z.array(z.object({ k: z.string(), v: z.number() })) })`;
  const who = kind === 1 ? `'anonymous'` : `identity.id`;
  const first = kind === 0 ? `String(input.id)` : `input.name${i}`;
  return `  r${i}: defineEndpoint(
    { path: '${path}', method: '${method}', description: 'route ${i}', gate: ${gate}, input: ${input}, output: ${output} },
    ({ input, identity }) => ({ id${i}: ${i}, label: ${first} + ${who}, items: [{ k: 'x', v: 1 }] }),
  ),`;
}

function call(i: number): string {
  const kind = i % 4;
  const input =
    kind === 0 ? `{ id: ${i}, q${i}: 'x' }` : `{ name${i}: 'n', count: 1, tags: ['t'], mode: 'a', meta: {} }`;
  return `  { const r = await api.r${i}(${input}); if (r.ok) labels.push(r.data.label + r.data.id${i} + r.data.items[0]!.k); else codes.push(r.problem.code); }`;
}

/** Probes that fail the check (as unused `@ts-expect-error`) if the types ever degrade to `any`. */
const PROBES = [
  '  // @ts-expect-error no such route',
  '  await api.nope();',
  '  // @ts-expect-error name1 must be a string',
  "  await api.r1({ name1: 1, count: 1, tags: [], mode: 'a', meta: {} });",
  '  const probe = await api.r0({ id: 1 });',
  '  // @ts-expect-error data only after ok',
  '  labels.push(probe.data.label);',
].join('\n');

/**
 * Write the app (routes.ts, server.ts, caller.ts, tsconfig.json) for `count` routes into `dir`, importing gatehouse
 * from `lib` (a folder of declarations, as an installed package has them; or `src`).
 */
export function writeTypeApp(dir: string, count: number, lib: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const rel = path.relative(dir, lib).split(path.sep).join('/');
  const routes = Array.from({ length: count }, (_, i) => route(i)).join('\n');
  fs.writeFileSync(
    path.join(dir, 'routes.ts'),
    `import { defineEndpoint, z } from '${rel}/index.js';\n\nexport const routes = {\n${routes}\n};\n`,
  );
  fs.writeFileSync(
    path.join(dir, 'server.ts'),
    `import { ServicePortal } from '${rel}/index.js';\nimport { routes } from './routes.js';\n\nexport const portal = new ServicePortal({ name: 'typed-app' });\nportal.register(routes);\n`,
  );
  const calls = Array.from({ length: count }, (_, i) => call(i)).join('\n');
  fs.writeFileSync(
    path.join(dir, 'caller.ts'),
    `import { createClient } from '${rel}/client/index.js';\nimport type { routes } from './routes.js';\n\nexport async function callAll(): Promise<string[]> {\n  const api = createClient<typeof routes>({ baseUrl: 'http://typed-app:3000', token: async () => 'token' });\n  const labels: string[] = [];\n  const codes: string[] = [];\n${calls}\n${PROBES}\n  await api.close();\n  return [...labels, ...codes];\n}\n`,
  );
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2023'],
          types: ['node'],
          typeRoots: [path.join(ROOT, 'node_modules', '@types')],
          strict: true,
          noUncheckedIndexedAccess: true,
          exactOptionalPropertyTypes: false,
          verbatimModuleSyntax: true,
          skipLibCheck: true,
          noEmit: true,
        },
        files: ['routes.ts', 'server.ts', 'caller.ts'],
      },
      null,
      2,
    ),
  );
}

/** What one tsc run over the app took and said. */
export interface TypeCheckRun {
  /** Wall time of the whole tsc process, in ms (grows with whatever else the machine runs). */
  wallMs: number;
  /** CPU time (user + system) the tsc process spent, in ms: the measure that does not depend on the machine's load. */
  cpuMs: number;
  /** tsc's own "Check time", in seconds. */
  checkSec: number;
  /** tsc's "Instantiations" count. */
  instantiations: number;
  /** The diagnostics tsc printed (empty when the app type-checks). */
  errors: string;
}

/** Type-check the app in `dir` with the project's TypeScript. */
export function checkTypeApp(dir: string): Promise<TypeCheckRun> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', CPU_REPORT, TSC, '-p', path.resolve(dir, 'tsconfig.json'), '--extendedDiagnostics'],
      { cwd: path.resolve(dir), maxBuffer: 64 * 1024 * 1024 },
      (_err, stdout, stderr) => {
        const wallMs = performance.now() - started;
        const text = `${stdout}${stderr}`;
        const cpu = /CPU_USAGE (\d+) (\d+)/.exec(text);
        const cpuMs = cpu ? (Number(cpu[1]) + Number(cpu[2])) / 1000 : NaN;
        const checkSec = Number(/Check time:\s+([\d.]+)s/.exec(text)?.[1] ?? NaN);
        const instantiations = Number(/Instantiations:\s+(\d+)/.exec(text)?.[1] ?? NaN);
        const errors = text
          .split('\n')
          .filter((l) => /error TS\d+/.test(l))
          .join('\n');
        resolve({ wallMs, cpuMs, checkSec, instantiations, errors });
      },
    );
  });
}
