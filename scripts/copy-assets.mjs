// Copy the non-TypeScript files under src/ (the control plane's dashboard page, stylesheet and script, ...) to the
// same paths under dist/ (or under the folder given as the first argument, for a build with another --outDir), so
// modules that read them relative to themselves find them there too. Run after tsc.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');
const dist = process.argv[2] ? resolve(process.argv[2]) : join(root, 'dist');
/** Not assets: sources (compiled by tsc) and notes for contributors. */
const SKIP = /\.(ts|mts|cts|md)$/;

let copied = 0;
const walk = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const from = join(dir, entry.name);
    if (entry.isDirectory()) walk(from);
    else if (entry.isFile() && !SKIP.test(entry.name)) {
      const to = join(dist, relative(src, from));
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(from, to);
      copied++;
    }
  }
};
walk(src);
process.stdout.write(`copy-assets: ${copied} file(s) from src/ to dist/\n`);
