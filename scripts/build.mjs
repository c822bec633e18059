// `npm run build` (and the tests that build the package): the package's dist/ from src/.
// 1. tsc writes the declarations (.d.ts) only, one per source file, so every entry's types stay where they are.
// 2. esbuild bundles the JavaScript: one file per entry point of package.json `exports` (and the CLI), with the code
//    entries share in chunks and every dynamic `import()` (a control plane's engine, the BullMQ engine, ...) in a
//    chunk of its own, loaded only when that code runs. Dependencies stay external. A cold `import('gatehouse')` then
//    reads a handful of files instead of ~180 modules, which is most of what it costs. Source maps point at src/,
//    which ships in the package.
// 3. The assets under src/ (the dashboard's page, stylesheet and script) are copied beside the compiled files.
// Usage: node scripts/build.mjs [outDir]   (default dist/)
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = process.argv[2] ? resolve(process.argv[2]) : join(root, 'dist');
const require = createRequire(import.meta.url);

/** The package's entry points: `exports` subpaths (their folders under src/) and the CLI. */
const ENTRIES = [
  'index',
  'buffers/index',
  'database/index',
  'client/index',
  'crypto/index',
  'background/index',
  'lifecycle/index',
  'control-plane/index',
  'enforcer/index',
];

rmSync(outDir, { recursive: true, force: true });
execFileSync(
  process.execPath,
  [
    require.resolve('typescript/bin/tsc'),
    '-p',
    join(root, 'tsconfig.build.json'),
    '--outDir',
    outDir,
    '--emitDeclarationOnly',
  ],
  { cwd: root, stdio: 'inherit' },
);
const common = {
  absWorkingDir: root,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
};
await build({
  ...common,
  entryPoints: Object.fromEntries(ENTRIES.map((e) => [e, join(root, 'src', `${e}.ts`)])),
  outdir: outDir,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
});
// The CLI is a process of its own (nothing shares its classes), so it is one file with its own chunks for what it
// loads on demand, and leaves the library's chunks as few as its entries need.
await build({
  ...common,
  entryPoints: { cli: join(root, 'src', 'cli.ts') },
  outdir: outDir,
  splitting: true,
  chunkNames: 'chunks/cli/[name]-[hash]',
});
execFileSync(process.execPath, [join(root, 'scripts', 'copy-assets.mjs'), outDir], { cwd: root, stdio: 'inherit' });
