// npm run bench:startup: what a cold start costs. Each case runs in a fresh node process (no compile cache),
// cases alternate in shuffled rounds so machine noise hits all alike, and the medians are printed with ratios
// against fastify measured in the same run.
// - import cases: the time `await import(<entry>)` takes inside the child (node's own boot excluded, the same
//   for every case), plus the child's whole wall time;
// - the portal case: import + `new ServicePortal()` + `run({ port: 0 })` + `close()`.
// gatehouse is imported by its package name through package.json `exports` (self-reference), from dist/: run
// `npm run build` first (the npm script does).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);

const importCase = (spec: string): string =>
  `const t0 = performance.now(); await import(${JSON.stringify(spec)}); ` +
  `process.stdout.write(JSON.stringify({ ms: performance.now() - t0 }));`;

const portalCase = [
  `const t0 = performance.now();`,
  `const { ServicePortal } = await import('gatehouse');`,
  `const dir = (await import('node:fs')).mkdtempSync((await import('node:os')).tmpdir() + '/gh-startup-');`,
  `const portal = new ServicePortal({ name: 'startup', dataDir: dir, auth: { secret: 'x'.repeat(40) }, requestLog: false });`,
  `await portal.run({ port: 0, host: '127.0.0.1', handleSignals: false });`,
  `await portal.close();`,
  `(await import('node:fs')).rmSync(dir, { recursive: true, force: true });`,
  `process.stdout.write(JSON.stringify({ ms: performance.now() - t0 }));`,
].join('\n');

const cases: Record<string, string> = {
  gatehouse: importCase('gatehouse'),
  'gatehouse/queue': importCase('gatehouse/queue'),
  fastify: importCase('fastify'),
  express: importCase('express'),
  'portal run+close': portalCase,
};

function runOnce(code: string): { ms: number; wallMs: number } {
  const t0 = performance.now();
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], {
    cwd: ROOT,
    env: { ...process.env, NODE_COMPILE_CACHE: '', NODE_DISABLE_COMPILE_CACHE: '1', GATEHOUSE_LOG_LEVEL: 'warn' },
    encoding: 'utf8',
  });
  const wallMs = performance.now() - t0;
  return { ms: (JSON.parse(out) as { ms: number }).ms, wallMs };
}

const names = Object.keys(cases);
const ms: Record<string, number[]> = {};
const wall: Record<string, number[]> = {};
for (const n of names) runOnce(cases[n]!); // warm the OS file cache once for every case
for (let r = 0; r < ROUNDS; r++) {
  for (const n of [...names].sort(() => Math.random() - 0.5)) {
    const res = runOnce(cases[n]!);
    (ms[n] ??= []).push(res.ms);
    (wall[n] ??= []).push(res.wallMs);
  }
}
const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`node ${process.version}, ${ROUNDS} rounds, medians (${path.basename(ROOT)})`);
console.log(
  `${'case'.padEnd(18)} ${'import ms'.padStart(10)} ${'process ms'.padStart(11)} ${'vs fastify'.padStart(11)}`,
);
const base = med(ms.fastify!);
for (const n of names) {
  const m = med(ms[n]!);
  console.log(
    `${n.padEnd(18)} ${m.toFixed(1).padStart(10)} ${med(wall[n]!).toFixed(1).padStart(11)} ${(m / base).toFixed(2).padStart(10)}×`,
  );
}
