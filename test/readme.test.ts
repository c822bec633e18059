/**
 * Every TypeScript block in README.md runs as printed, against the packed project, in the order printed.
 *
 * Once per run: build into a staging copy, `npm pack` it, unpack the tarball into a scratch app's
 * node_modules/gatehouse and link the package's production dependencies (plus typescript to type-check) from
 * this repository's node_modules, so nothing is downloaded. Then, in parallel:
 * - one `tsc --noEmit` (strict, and only syntax Node can strip) over every block, fragments included;
 * - every `##` section runs its steps one after another in one working directory, as a user following the
 *   section would: its TypeScript blocks that are not fragments (each `node block.ts`, as the Quickstart says:
 *   Node strips the types) and the `npx gatehouse ...` lines of its shell blocks (the packed CLI), so folders,
 *   files and names one step leaves behind are there for the next. A block that calls `portal.run(...)` is a
 *   server: the test waits until it listens, sends it real HTTP requests (the Quickstart must serve
 *   `POST /api/greet`), then sends SIGTERM and expects exit 0. A shell line that starts a server (it listens
 *   before exiting) keeps running while the rest of the section runs, then gets SIGTERM and must exit 0. Any
 *   other step must exit 0 on its own. A block logs nothing at warn or above unless warning is its point
 *   (`MAY_WARN`): the first thing a user copies should not warn.
 *
 * Fragments are marked in the README with the info string ```` ```ts fragment ````; they are type-checked, not
 * run. Shell lines that read a variable (`$...`) or run anything but `npx gatehouse` are not run. Blocks that
 * talk to Redis (`redis://`, `REDIS_URL`) run when a Redis answers on 127.0.0.1:6379 and are skipped otherwise
 * (required with GATEHOUSE_REQUIRE_REDIS=1).
 *
 * Servers listen on the port the README prints (3000). So that parallel sections (and other services on the
 * machine) never collide, a preload module turns a non-zero listen port into 0 and reports the bound port on
 * stderr; nothing else about the step changes.
 */
import { execFile, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisAvailable } from './helpers.js';
import { buildDist } from './packaging/build.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BLOCK_TIMEOUT_MS = 120_000; // generous: a loaded two-core machine starts processes slowly

interface Block {
  /** 1-based position among the README's TypeScript blocks. */
  index: number;
  /** The heading the block sits under. */
  heading: string;
  /** The `##` section the block belongs to (its own heading or the one above it). */
  section: string;
  /** Line of the opening fence in README.md. */
  line: number;
  code: string;
  fragment: boolean;
  file: string;
}

/** One `npx gatehouse ...` line of a shell block. */
interface ShellLine {
  /** Line in README.md. */
  line: number;
  /** The `##` section it belongs to. */
  section: string;
  command: string;
}

/** The README's ```ts / ```typescript blocks, in order, with the heading each sits under. */
function readmeBlocks(): { blocks: Block[]; shell: ShellLine[] } {
  const lines = readFileSync(path.join(ROOT, 'README.md'), 'utf8').split('\n');
  const blocks: Block[] = [];
  const shell: ShellLine[] = [];
  let heading = '(top)';
  let section = '(top)';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const h = /^(#{1,4})\s+(.*)$/.exec(line);
    if (h) {
      heading = h[2]!.trim();
      if (h[1]!.length <= 2) section = heading;
    }
    const open = /^```(\w+)(?:\s+(.*))?$/.exec(line);
    if (!open) continue;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !/^```\s*$/.test(lines[j] ?? '')) body.push(lines[j++] ?? '');
    if (open[1] === 'sh' || open[1] === 'bash') {
      body.forEach((command, k) => {
        if (/^npx gatehouse\s/.test(command) && !command.includes('$'))
          shell.push({ line: i + 2 + k, section, command: command.trim() });
      });
    }
    if (open[1] === 'ts' || open[1] === 'typescript') {
      const index = blocks.length + 1;
      const slug = heading
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-|-$/g, '');
      blocks.push({
        index,
        heading,
        section,
        line: i + 1,
        code: `${body.join('\n')}\n`,
        fragment: /\bfragment\b/.test(open[2] ?? ''),
        file: `block-${String(index).padStart(2, '0')}-${slug}.ts`,
      });
    }
    i = j;
  }
  return { blocks, shell };
}

const { blocks: BLOCKS, shell: SHELL } = readmeBlocks();
const needsRedis = (b: Block): boolean => /redis:\/\/|REDIS_URL/.test(b.code);
const isServer = (b: Block): boolean => /\.run\(\s*\{/.test(b.code);
/** A worker block runs until a signal: it must start, then exit 0 on SIGTERM. */
const isWorker = (b: Block): boolean => /\brunWorker\(/.test(b.code);

// The children must not inherit this test run's npm or vitest context (vitest silences the default logger).
const CHILD_ENV = Object.fromEntries(
  Object.entries(process.env).filter(([key]) => !/^(npm_|VITEST|INIT_CWD$|NODE_OPTIONS$|GATEHOUSE_)/.test(key)),
) as NodeJS.ProcessEnv;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], cwd: string, timeoutMs = 180_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd, timeout: timeoutMs, env: { ...CHILD_ENV, NO_COLOR: '1' }, maxBuffer: 32 << 20 },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : null
          : 0;
        resolve({ code, signal: (err as { signal?: NodeJS.Signals } | null)?.signal ?? null, stdout, stderr });
      },
    );
  });
}

// Rewrites a non-zero listen port to 0 and reports the bound one, so blocks printing `port: 3000` never collide.
const PRELOAD = `import net from 'node:net';
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' && args[0] !== 0) args[0] = 0;
  else if (args[0] && typeof args[0] === 'object' && typeof args[0].port === 'number' && args[0].port !== 0) args[0] = { ...args[0], port: 0 };
  this.once('listening', () => {
    const a = this.address();
    if (a && typeof a === 'object') process.stderr.write('README_TEST_LISTENING ' + a.port + '\\n');
  });
  return listen.apply(this, args);
};
`;

let tmp = '';
let app = '';

/** Build, pack and unpack the project into a scratch app; link its dependencies from this repository. */
async function preparePackedApp(): Promise<void> {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-readme-'));
  const stage = path.join(tmp, 'stage');
  mkdirSync(stage);
  for (const entry of ['package.json', 'README.md', 'bin'])
    cpSync(path.join(ROOT, entry), path.join(stage, entry), { recursive: true });
  const build = await buildDist(path.join(stage, 'dist'));
  expect(build.code, build.output).toBe(0);
  const pack = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', tmp], stage);
  expect(pack.code, pack.stdout + pack.stderr).toBe(0);
  const tarball = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
  expect(tarball, pack.stdout + pack.stderr).toBeDefined();

  app = path.join(tmp, 'app');
  const modules = path.join(app, 'node_modules');
  mkdirSync(modules, { recursive: true });
  const untar = await run('tar', ['-xzf', path.join(tmp, tarball!), '-C', modules], tmp);
  expect(untar.code, untar.stderr).toBe(0);
  cpSync(path.join(modules, 'package'), path.join(modules, 'gatehouse'), { recursive: true });
  rmSync(path.join(modules, 'package'), { recursive: true, force: true });
  const pkg = JSON.parse(readFileSync(path.join(modules, 'gatehouse', 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  // Production dependencies only (a dev dependency a block imports fails to resolve), plus the tools.
  for (const dep of [...Object.keys(pkg.dependencies), 'typescript']) {
    const target = path.join(modules, dep);
    mkdirSync(path.dirname(target), { recursive: true });
    symlinkSync(path.join(ROOT, 'node_modules', dep), target, 'dir');
  }
  writeFileSync(
    path.join(app, 'package.json'),
    `${JSON.stringify({ name: 'readme-app', version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`,
  );
  writeFileSync(
    path.join(app, 'tsconfig.json'),
    `${JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          types: ['node'],
          strict: true,
          noUncheckedIndexedAccess: true,
          skipLibCheck: true,
          noEmit: true,
          moduleDetection: 'force',
          // What `node main.ts` runs: types are stripped, so only erasable syntax, and type-only imports say so.
          verbatimModuleSyntax: true,
          erasableSyntaxOnly: true,
        },
        include: ['blocks'],
      },
      null,
      2,
    )}\n`,
  );
  writeFileSync(path.join(app, 'preload.mjs'), PRELOAD);
  mkdirSync(path.join(app, 'blocks'));
  for (const b of BLOCKS) writeFileSync(path.join(app, 'blocks', b.file), b.code);
}

interface Proc {
  cwd: string;
  output: () => string;
  waitFor: (pattern: RegExp) => Promise<RegExpExecArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill: (signal: NodeJS.Signals) => void;
}

/** The working directory a section's steps share. */
function sectionDir(section: string): string {
  const slug = section
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
  const cwd = path.join(app, 'work', slug);
  mkdirSync(cwd, { recursive: true });
  return cwd;
}

/** Start one step (a block or a shell line) in its section's working directory. */
function startStep(what: string, command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Proc {
  const proc = spawn(command, args, { cwd, env: { ...CHILD_ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    out += chunk.toString();
    for (const w of waiters) w();
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const timer = setTimeout(() => proc.kill('SIGKILL'), BLOCK_TIMEOUT_MS);
  void exited.then(() => {
    clearTimeout(timer);
    for (const w of waiters) w();
  });
  const waitFor = (pattern: RegExp): Promise<RegExpExecArray> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const m = pattern.exec(out);
        if (m) {
          waiters.delete(check);
          resolve(m);
        } else if (proc.exitCode !== null || proc.signalCode !== null) {
          waiters.delete(check);
          reject(new Error(`${what} exited before printing ${pattern}:\n${out}`));
        }
      };
      waiters.add(check);
      check();
    });
  return { cwd, output: () => out, waitFor, exited, kill: (s) => proc.kill(s) };
}

/** Run a TypeScript block as the Quickstart says (`node main.ts`: Node strips the types). */
function startBlock(b: Block, cwd: string, env: NodeJS.ProcessEnv = {}): Proc {
  return startStep(
    `block ${b.index} (${b.heading}, README.md:${b.line})`,
    process.execPath,
    ['--import', path.join(app, 'preload.mjs'), path.join(app, 'blocks', b.file)],
    cwd,
    env,
  );
}

/** Run a shell line with `npx gatehouse` meaning the packed CLI (and the listen-port preload). */
function startShellLine(l: ShellLine, cwd: string): Proc {
  const cli = path.join(app, 'node_modules', 'gatehouse', 'bin', 'gatehouse.js');
  const node = `exec ${JSON.stringify(process.execPath)} --import ${JSON.stringify(path.join(app, 'preload.mjs'))} ${JSON.stringify(cli)}`;
  // A trailing `&` (a server started in the background) is left to the test, which keeps servers running anyway.
  const command = l.command
    .replace(/\s#.*$/, '')
    .replace(/\s*&\s*$/, '')
    .replace(/^npx gatehouse/, node);
  return startStep(`README.md:${l.line} \`${l.command}\``, 'sh', ['-c', command], cwd, { NO_COLOR: '1' });
}

/**
 * Blocks whose warnings are the point: the Lifecycle block enters MAINTENANCE (warn), the HTTP client block calls
 * a host that does not exist and passes an endpoint without a scheme (each logged at warn).
 */
const MAY_WARN = new Set(['Lifecycle', 'HTTP client']);

type Exercise = (base: string, proc: Proc) => Promise<void>;

async function until(cond: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function call(
  base: string,
  p: string,
  init: RequestInit = {},
): Promise<{ status: number; text: string; json: () => unknown }> {
  const res = await fetch(`${base}${p}`, init);
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) as unknown };
}

const post = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

/** What each server block must serve, by the heading it sits under. */
const EXERCISES: Record<string, Exercise> = {
  Quickstart: async (base, proc) => {
    const greet = await call(base, '/api/greet', post({ name: 'Ada' }));
    expect(greet.status, greet.text).toBe(200);
    expect(greet.json()).toEqual({ message: 'Hello, Ada!' });
    const bad = await call(base, '/api/greet', post({ name: '' }));
    expect(bad.status).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'ERR_VALIDATION', errors: [expect.objectContaining({ path: 'name' })] });
    // The token the block prints works on the bearer-gated route; no token is a 401.
    const [, token] = await proc.waitFor(/Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)/);
    const me = await call(base, '/api/me', { headers: { authorization: `Bearer ${token!}` } });
    expect(me.status, me.text).toBe(200);
    expect(me.json()).toEqual({ id: '42', scopes: ['profile:read'] });
    expect((await call(base, '/api/me')).status).toBe(401);
    // The express route behind the API-key gate.
    expect((await call(base, '/legacy')).status).toBe(401);
    const legacy = await call(base, '/legacy', { headers: { 'x-api-key': 'local-dev-key-change-me' } });
    expect(legacy).toMatchObject({ status: 200, text: 'ok' });
  },
  Realtime: async (base) => {
    expect((await call(base, '/health')).status).toBe(200);
    // Handshakes go through the bearer gate: no token, no socket.
    const socket = io(base, { transports: ['websocket'], reconnection: false });
    const refused = await new Promise<unknown>((resolve) =>
      socket.once('connect_error', (err: Error & { data?: unknown }) => resolve(err.data)),
    );
    socket.close();
    expect(refused).toMatchObject({ code: 'ERR_AUTH_MISSING' });
  },
  Lifecycle: async (base, proc) => {
    expect(proc.output()).toMatch(/^ACTIVE$/m); // printed by the block after withMaintenance
    expect((await call(base, '/health')).status).toBe(200);
    const ready = await call(base, '/ready');
    expect(ready.status, ready.text).toBe(200);
    // /status and its text form are behind the statusGate the block configures.
    expect((await call(base, '/status')).status).toBe(401);
    expect((await call(base, '/status.txt')).status).toBe(401);
    // The packed CLI gates the running block through the SQLite store and says it reached it.
    const cli = path.join(app, 'node_modules', 'gatehouse', 'bin', 'gatehouse.js');
    const set = await run(process.execPath, [cli, 'lifecycle', 'set', 'MAINTENANCE', '--data-dir', './data'], proc.cwd);
    expect(set.stderr).toBe('');
    expect(set.stdout).toMatch(
      /^lifecycle set to MAINTENANCE in \.\/data: 1 running portal follows this store \(gatehouse pid \d+ on \S+\)\n$/,
    );
    await until(async () => (await call(base, '/ready')).status === 503);
    expect(
      (await run(process.execPath, [cli, 'lifecycle', 'set', 'ACTIVE', '--data-dir', './data'], proc.cwd)).code,
    ).toBe(0);
    await until(async () => (await call(base, '/ready')).status === 200);
  },
  'Calling a service': async (base, proc) => {
    // The block's own caller went over HTTP: a typed call to a bearer route, and an idempotent POST.
    await proc.waitFor(/^for 42$/m);
    await proc.waitFor(/^paid 25$/m);
    const greet = await call(base, '/api/greet', post({ name: 'Ada' }));
    expect(greet.json()).toEqual({ message: 'Hi Ada' });
    expect((await call(base, '/api/notes/7')).status).toBe(401);
    const pay = (): Promise<{ status: number; json(): unknown; headers: Headers }> =>
      fetch(`${base}/api/payments`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': 'order-1' },
        body: JSON.stringify({ amount: 5 }),
      }).then(async (r) => {
        const text = await r.text();
        return { status: r.status, headers: r.headers, json: () => JSON.parse(text) as unknown };
      });
    const first = await pay();
    const again = await pay();
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.json()).toEqual(first.json());
    expect(again.headers.get('idempotency-replayed')).toBe('true');
    const doc = (await call(base, '/openapi.json')).json() as {
      paths: Record<string, Record<string, { operationId: string }>>;
    };
    expect(doc.paths['/api/notes/{id}']!.get!.operationId).toBe('note');
  },
  'Overload and startup': async (base) => {
    // The probes server listens first, so `base` is the probes port: the probe routes live there.
    expect((await call(base, '/health')).status).toBe(200);
    await until(async () => (await call(base, '/ready')).status === 200);
    const status = (await call(base, '/status')).json() as { checks: Record<string, { state: string }> };
    expect(status.checks['cache-warm']).toMatchObject({ state: 'OK' });
    expect(Object.keys(status.checks)).toContain('overload');
    expect((await call(base, '/api/greet?name=Ada')).status).toBe(404); // the API is on the main port only
  },
  'Server-sent events': async (base, proc) => {
    const [, token] = await proc.waitFor(/Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)/);
    expect((await call(base, '/api/feed?topic=news')).status).toBe(401);
    const controller = new AbortController();
    const res = await fetch(`${base}/api/feed?topic=news`, {
      headers: { authorization: `Bearer ${token!}` },
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reader = res.body!.getReader();
    let text = '';
    const read = async (pattern: RegExp): Promise<void> => {
      while (!pattern.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${pattern}: ${text}`);
        text += new TextDecoder().decode(value);
      }
    };
    await read(/event: hello\n/);
    expect((await call(base, '/api/news', post({ text: 'hi' }))).json()).toEqual({ sent: true });
    await read(/event: item\ndata: \{"text":"hi"\}\n\n/);
    expect(text).toMatch(/^retry: \d+\n\nid: [A-Za-z0-9_-]+-1\nevent: hello\n/);
    controller.abort();
  },
  Uploads: async (base) => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...new Array<number>(100).fill(7)]);
    const form = new FormData();
    form.set('title', 'Report');
    form.set('file', new Blob([png], { type: 'image/png' }), 'chart.png');
    const ok = await call(base, '/api/files', { method: 'POST', body: form });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.json()).toEqual([{ title: 'Report', name: 'chart.png', size: 108, type: 'image/png' }]);
    const fake = new FormData();
    fake.set('title', 'Report');
    fake.set('file', new Blob(['not a png at all'], { type: 'image/png' }), 'fake.png');
    const refused = await call(base, '/api/files', { method: 'POST', body: fake });
    expect(refused.status).toBe(415);
    expect(refused.json()).toMatchObject({ code: 'ERR_UPLOAD_TYPE' });
  },
  Fleet: async (base) => {
    expect((await call(base, '/health')).status).toBe(200);
    expect((await call(base, '/ready')).status).toBe(200);
  },
};

const redis = await redisAvailable();
const skipsRedis = (b: Block): boolean => needsRedis(b) && !redis && process.env.GATEHOUSE_REQUIRE_REDIS !== '1';

type Step = { kind: 'block'; block: Block } | { kind: 'shell'; shell: ShellLine };

/** The README's `##` sections with what runs in each (blocks that are not fragments, CLI lines), in README order. */
const SECTIONS: Array<{ name: string; steps: Step[] }> = (() => {
  const steps: Array<Step & { line: number; section: string }> = [
    ...BLOCKS.filter((b) => !b.fragment).map((block) => ({
      kind: 'block' as const,
      block,
      line: block.line,
      section: block.section,
    })),
    ...SHELL.map((shell) => ({ kind: 'shell' as const, shell, line: shell.line, section: shell.section })),
  ].sort((a, b) => a.line - b.line);
  const sections = new Map<string, Step[]>();
  for (const st of steps) {
    const list = sections.get(st.section) ?? [];
    list.push(st.kind === 'block' ? { kind: 'block', block: st.block } : { kind: 'shell', shell: st.shell });
    sections.set(st.section, list);
  }
  return [...sections].map(([name, list]) => ({ name, steps: list }));
})();

describe('README.md', () => {
  beforeAll(preparePackedApp, 240_000);
  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  // Fragments, each justified where it stands: the Executor thread pool (needs its worker file), route discovery
  // (a folder of modules: two blocks), remote control (needs a control plane and a project token).
  it('has TypeScript blocks, few of them fragments, and an exercise for every server block', () => {
    expect(BLOCKS.length).toBeGreaterThan(10);
    expect(BLOCKS.filter((b) => b.fragment).length).toBeLessThanOrEqual(4);
    expect(BLOCKS.some((b) => b.heading === 'Quickstart' && isServer(b) && b.code.includes("'/api/greet'"))).toBe(true);
    // The Control plane section runs its CLI lines (a control plane in the background, a project) before its block.
    const control = SECTIONS.find((x) => x.name === 'Control plane');
    expect(control?.steps.map((st) => st.kind)).toEqual(['shell', 'shell', 'shell', 'block']);
    for (const b of BLOCKS.filter((x) => isServer(x) && !x.fragment))
      expect(EXERCISES[b.heading], `server block ${b.index} under "${b.heading}" (README.md:${b.line})`).toBeDefined();
  });

  describe.concurrent('blocks', () => {
    it('every block type-checks (strict) against the packed package', async () => {
      const tsc = await run(
        process.execPath,
        [path.join(app, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(app, 'tsconfig.json')],
        app,
      );
      // Name the README line of each error.
      const located = (tsc.stdout + tsc.stderr).replace(
        /blocks\/(block-\d+)[^(]*\((\d+),\d+\)/g,
        (m, file: string, line: string) => {
          const b = BLOCKS.find((x) => x.file.startsWith(file));
          return b ? `${m} [README.md:${b.line + Number(line)}]` : m;
        },
      );
      expect(located).toBe('');
      expect(tsc.code).toBe(0);
    }, 180_000);

    for (const section of SECTIONS) {
      const runnable = section.steps.filter((st) => !(st.kind === 'block' && skipsRedis(st.block)));
      const names = section.steps.map((st) =>
        st.kind === 'block' ? `block ${st.block.index} (README.md:${st.block.line})` : `README.md:${st.shell.line}`,
      );
      it.skipIf(!runnable.some((st) => st.kind === 'block'))(
        `section "${section.name}": ${names.join(', ')} run in order in one folder, each exits 0`,
        async () => {
          const cwd = sectionDir(section.name);
          const servers: Proc[] = []; // shell lines that started a server: they run until the section ends
          const blocks: Proc[] = []; // killed when the section fails, so no block outlives the test run
          try {
            for (const st of runnable) {
              if (st.kind === 'shell') {
                const proc = startShellLine(st.shell, cwd);
                const first = await Promise.race([
                  proc.waitFor(/README_TEST_LISTENING (\d+)/).then(
                    () => 'listening' as const,
                    () => 'exited' as const,
                  ),
                  proc.exited.then(() => 'exited' as const),
                ]);
                if (first === 'listening') servers.push(proc);
                else
                  expect(await proc.exited, `README.md:${st.shell.line} ${st.shell.command}\n${proc.output()}`).toEqual(
                    { code: 0, signal: null },
                  );
                continue;
              }
              const b = st.block;
              const proc = startBlock(b, cwd, needsRedis(b) ? { REDIS_URL: 'redis://127.0.0.1:6379' } : {});
              blocks.push(proc);
              if (isServer(b)) {
                const [, port] = await proc.waitFor(/README_TEST_LISTENING (\d+)/);
                const base = `http://127.0.0.1:${port!}`;
                try {
                  await EXERCISES[b.heading]!(base, proc);
                } catch (err) {
                  throw new Error(`block ${b.index} (README.md:${b.line}): ${String(err)}\n${proc.output()}`, {
                    cause: err,
                  });
                }
                proc.kill('SIGTERM');
              } else if (isWorker(b)) {
                await proc.waitFor(/worker running until a signal/);
                proc.kill('SIGTERM');
              }
              const exit = await proc.exited;
              expect(exit, `block ${b.index} (README.md:${b.line})\n${proc.output()}`).toEqual({
                code: 0,
                signal: null,
              });
              // What a user copies should not warn, unless warning is what the block shows.
              if (!MAY_WARN.has(b.heading))
                expect(
                  proc
                    .output()
                    .split('\n')
                    .filter((l) => /"level":(40|50|60)\b/.test(l)),
                  `block ${b.index} (README.md:${b.line}) logs at warn or above`,
                ).toEqual([]);
            }
          } catch (err) {
            for (const block of blocks) block.kill('SIGKILL');
            throw err;
          } finally {
            for (const server of servers) server.kill('SIGTERM');
          }
          for (const server of servers) expect(await server.exited, server.output()).toEqual({ code: 0, signal: null });
        },
        (BLOCK_TIMEOUT_MS + 30_000) * section.steps.length,
      );
    }
  });
});
