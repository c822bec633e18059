import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDist } from './build.js';

// API.md 14: a user reading the README from the installed package can follow every link, and no source map names a
// file that does not ship. The package's file list is npm's own (`npm pack --dry-run --json`).
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
mkdirSync(path.join(ROOT, '.tmp'), { recursive: true }); // git-ignored; absent on a clean checkout
const work = mkdtempSync(path.join(ROOT, '.tmp', 'package-contents-'));
const DIST = path.join(work, 'dist');

// The child npm must not inherit this test run's npm script context.
const CHILD_ENV = Object.fromEntries(
  Object.entries(process.env).filter(
    ([key]) => !/^(npm_package_|npm_lifecycle_|npm_config_local_prefix$|INIT_CWD$)/.test(key),
  ),
);

function run(command: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd: ROOT, env: CHILD_ENV, timeout: 180_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    );
  });
}

let shipped: Set<string>;
beforeAll(async () => {
  const [pack, build] = await Promise.all([
    run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts']),
    buildDist(DIST),
  ]);
  expect(pack.code, pack.stderr).toBe(0);
  expect(build.code, build.output).toBe(0);
  const [entry] = JSON.parse(pack.stdout) as Array<{ files: Array<{ path: string }> }>;
  shipped = new Set(entry!.files.map((f) => f.path));
}, 240_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** True when `rel` is a shipped file or a folder holding shipped files. */
const ships = (rel: string): boolean =>
  shipped.has(rel) || [...shipped].some((f) => f.startsWith(`${rel.replace(/\/$/, '')}/`));

describe('the published package', () => {
  it('ships every file or folder the README links to, and names its repository', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const targets = [...readme.matchAll(/\]\(([^)\s]+)\)/g)]
      .map((m) => m[1]!.split('#')[0]!)
      .filter((t) => t !== '' && !/^[a-z]+:/i.test(t));
    expect(targets.length).toBeGreaterThan(5);
    expect(targets.filter((t) => !ships(path.posix.normalize(t)))).toEqual([]);
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { repository?: { url?: string } };
    expect(pkg.repository?.url).toMatch(/^git\+https:\/\/github\.com\/[^/]+\/[^/]+\.git$/);
  });

  it('ships the sources every source map names, and no test files', () => {
    const maps: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, e.name);
        if (e.isDirectory()) walk(full);
        else if (e.name.endsWith('.map')) maps.push(full);
      }
    };
    walk(DIST);
    expect(maps.length).toBeGreaterThan(50);
    const missing: string[] = [];
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(map, 'utf8')) as { sources: string[] };
      for (const source of sources) {
        // The staging build names the same files as the real one (tsc writes paths relative to the map): resolved,
        // they are files of this repository, whose path here is their path in the package.
        const rel = path
          .relative(ROOT, path.resolve(path.dirname(map), source))
          .split(path.sep)
          .join('/');
        if (!shipped.has(rel)) missing.push(`${path.relative(DIST, map)} -> ${rel}`);
      }
    }
    expect(missing).toEqual([]);
    expect([...shipped].filter((f) => /\.test\.ts$|^test\//.test(f))).toEqual([]);
  });
});
