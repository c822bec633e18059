import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, packagesOf, runRecorded } from '../load-on-use-helpers.js';
import { buildDist } from './build.js';

// API.md 14 (load on use): what a gatehouse entry and a plain portal or queue load, recorded in a child process
// by a node:module resolve hook, against the compiled package (the same dist/ a user installs).
const FIXTURES = fileURLToPath(new URL('./fixtures/load/', import.meta.url));
// Under the repository so the compiled files resolve their dependencies from its node_modules, as installed.
mkdirSync(path.join(ROOT, '.tmp'), { recursive: true }); // git-ignored; absent on a clean checkout
const work = mkdtempSync(path.join(ROOT, '.tmp', 'load-on-use-'));
const DIST = path.join(work, 'dist');

/** The packages (by node_modules folder) and gatehouse files a scenario resolved, and what it printed. */
async function scenario(
  file: string,
  env: Record<string, string> = {},
): Promise<{ packages: Set<string>; own: Set<string>; output: string }> {
  const dir = mkdtempSync(path.join(work, 'run-'));
  const res = await runRecorded([path.join(FIXTURES, file)], {
    tsx: false,
    env: { GATEHOUSE_DIST: DIST, SCENARIO_DIR: dir, GATEHOUSE_LOG_LEVEL: 'silent', ...env },
  });
  const output = `${res.stdout}${res.stderr}`;
  expect(res.code, output).toBe(0);
  // The build bundles: a loaded file of dist/ is an entry or a chunk, and its source map names the src/ modules
  // it holds. `own` lists those modules (paths under src/, without the extension), so the checks below speak of
  // gatehouse's modules whatever chunk they landed in.
  const own = new Set<string>();
  for (const url of res.modules) {
    if (!url.startsWith('file:')) continue;
    const file = fileURLToPath(url);
    if (!file.startsWith(DIST) || !file.endsWith('.js')) continue;
    const { sources } = JSON.parse(readFileSync(`${file}.map`, 'utf8')) as { sources: string[] };
    for (const source of sources) {
      const rel = path.relative(path.join(ROOT, 'src'), path.resolve(path.dirname(file), source));
      if (!rel.startsWith('..')) own.add(rel.replace(/\.ts$/, '').split(path.sep).join('/'));
    }
  }
  return { packages: new Set(packagesOf(res.modules)), own, output };
}

const present = (packages: Set<string>, names: readonly string[]): string[] => names.filter((n) => packages.has(n));

beforeAll(async () => {
  const build = await buildDist(DIST);
  expect(build.code, build.output).toBe(0);
}, 180_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('load on use', () => {
  it('a portal without redis, websocket, threads, pretty logs, inject or a control plane loads none of them', async () => {
    const { packages, own, output } = await scenario('portal.mjs');
    expect(output).toBe('200 {"pong":true}');
    expect(
      present(packages, [
        'bullmq',
        'ioredis',
        '@socket.io/redis-adapter',
        'socket.io',
        'engine.io',
        'ws',
        'piscina',
        'pino-pretty',
        'light-my-request',
        'undici',
        'croner',
        'express',
        'busboy',
      ]),
    ).toEqual([]);
    // The root re-exports ControlPlane, so its light class (options and input checks) loads; its engine does not.
    expect(own.has('control-plane/control-plane')).toBe(true);
    expect(
      [...own].filter((f) =>
        /^control-plane\/(engine|admin|admin-gate|dashboard|routes|sockets|live|protocol|project-cache|store.*)$/.test(
          f,
        ),
      ),
    ).toEqual([]);
  });

  it('turning an option on loads its module with no import from the user (websocket, inject, upload)', async () => {
    const { packages, output } = await scenario('portal.mjs', { SCENARIO_OPTIONS: 'on' });
    expect(output).toBe('200 {"pong":true}');
    expect(present(packages, ['socket.io', 'engine.io', 'light-my-request', 'busboy'])).toEqual([
      'socket.io',
      'engine.io',
      'light-my-request',
      'busboy',
    ]);
    expect(present(packages, ['bullmq', 'ioredis', '@socket.io/redis-adapter', 'piscina'])).toEqual([]);
  });

  it('gatehouse/queue runs a job on SQLite without the portal, express, socket.io, bullmq or ioredis', async () => {
    const { packages, own, output } = await scenario('queue.mjs');
    expect(output).toBe('ran ada');
    expect(packages.has('better-sqlite3')).toBe(true);
    expect(
      present(packages, [
        'express',
        'socket.io',
        'engine.io',
        'find-my-way',
        'helmet',
        'bullmq',
        'ioredis',
        'undici',
        'prom-client',
        'jose',
      ]),
    ).toEqual([]);
    expect(own.has('buffers/task-buffer')).toBe(true);
    expect([...own].filter((f) => f.startsWith('servers/') || f.startsWith('control-plane/'))).toEqual([]);
  });
});
