import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Build the package as `npm run build` does (tsc with tsconfig.build.json, then the assets under src/ copied
 * beside the compiled files), into `outDir` instead of dist/, so the repository's own dist/ (which
 * bin/gatehouse.js prefers) is left alone. Resolves tsc's and the copy's output and exit code.
 */
export async function buildDist(outDir: string): Promise<{ code: number | null; output: string }> {
  const step = (args: string[]): Promise<{ code: number | null; output: string }> =>
    new Promise((resolve) => {
      execFile(process.execPath, args, { cwd: ROOT, timeout: 180_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, output: `${stdout}${stderr}` }),
      );
    });
  const tsc = await step([
    path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
    '-p',
    path.join(ROOT, 'tsconfig.build.json'),
    '--outDir',
    outDir,
  ]);
  if (tsc.code !== 0) return tsc;
  return step([path.join(ROOT, 'scripts', 'copy-assets.mjs'), outDir]);
}
