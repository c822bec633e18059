import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Build the package as `npm run build` does (scripts/build.mjs: declarations by tsc, the bundled JavaScript by
 * esbuild, the assets copied), into `outDir` instead of dist/, so the repository's own dist/ (which
 * bin/gatehouse.js prefers) is left alone. Resolves the build's output and exit code.
 */
export function buildDist(outDir: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(ROOT, 'scripts', 'build.mjs'), outDir],
      { cwd: ROOT, timeout: 180_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, output: `${stdout}${stderr}` }),
    );
  });
}
