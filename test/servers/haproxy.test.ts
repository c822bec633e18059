// A rolling restart behind a real haproxy (Debian's package): three portal processes, health checks on /ready,
// steady load through haproxy, each instance sent SIGTERM and replaced in turn. Nothing may fail, and haproxy
// must not have had to hide anything: its retry, redispatch and error counters stay at 0.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openLoop } from '../../bench/open-loop.js';
import { get, startFixture, type FixtureProcess } from './overload-processes.js';

const HAPROXY = ['/usr/sbin/haproxy', '/usr/bin/haproxy', '/usr/local/sbin/haproxy'].find((p) => existsSync(p));
const REQUIRE_HAPROXY = process.env.GATEHOUSE_REQUIRE_HAPROXY === '1';
if (!HAPROXY && !REQUIRE_HAPROXY)
  console.warn(
    '[servers] SKIPPING the haproxy rolling-restart test: no haproxy (apt-get install -y haproxy; set GATEHOUSE_REQUIRE_HAPROXY=1 to make this a failure)',
  );

/**
 * The drain delay the instances use: longer than haproxy needs to see /ready fail (fall 2 × inter 300 ms, plus
 * the checks' own time on a busy machine).
 */
const DRAIN_DELAY_MS = 3000;

/** A free TCP port on 127.0.0.1 (listened on once and released). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** One command on haproxy's stats socket; resolves with its whole answer. */
function haproxyCommand(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = createConnection(socket);
    let out = '';
    c.on('data', (d: Buffer) => (out += d.toString()));
    c.on('end', () => resolve(out));
    c.on('error', reject);
    c.write(`${command}\n`);
  });
}

/** `show stat` as rows keyed by column name. */
async function stats(socket: string): Promise<Array<Record<string, string>>> {
  const text = await haproxyCommand(socket, 'show stat');
  const [header, ...lines] = text.trim().split('\n');
  const cols = header!.replace(/^# /, '').split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i] ?? `c${i}`, v])));
}

describe.skipIf(!HAPROXY && !REQUIRE_HAPROXY)('rolling restart behind haproxy', () => {
  const procs: FixtureProcess[] = [];
  let haproxy: ChildProcess | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.kill()));
    if (haproxy && haproxy.exitCode === null) {
      const gone = new Promise((r) => haproxy!.once('exit', r));
      haproxy.kill('SIGKILL');
      await gone;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('requires haproxy when GATEHOUSE_REQUIRE_HAPROXY=1', () => {
    expect(HAPROXY).toBeDefined();
  });

  it('SIGTERM and replace each of three instances under steady load: zero failed requests, haproxy retries and errors at 0', async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-haproxy-'));
    const ports = [await freePort(), await freePort(), await freePort()];
    const front = await freePort();
    const socket = join(dir, 'haproxy.sock');
    const cfg = join(dir, 'haproxy.cfg');
    writeFileSync(
      cfg,
      [
        'global',
        `  stats socket ${socket} mode 600 level admin`,
        '  maxconn 2000',
        'defaults',
        '  mode http',
        '  timeout connect 2s',
        '  timeout client 30s',
        '  timeout server 30s',
        '  retries 3',
        // A check waits up to 3 s for its answer (else it counts as failed): a busy machine must not mark a
        // healthy instance DOWN.
        '  timeout check 3s',
        'frontend fe',
        `  bind 127.0.0.1:${front}`,
        '  default_backend be',
        'backend be',
        '  balance roundrobin',
        '  option httpchk GET /ready',
        '  http-check expect status 200',
        '  default-server inter 300ms fall 2 rise 2',
        ...ports.map((p, i) => `  server s${i + 1} 127.0.0.1:${p} check`),
        '',
      ].join('\n'),
    );
    // Steady state first: three instances (shedding off: this test is about draining on a busy shared machine).
    const env = (port: number): Record<string, string> => ({
      DATA_DIR: join(dir!, `data-${port}`),
      PORT: String(port),
      OVERLOAD: 'off',
      WORK_MS: '1',
      DRAIN_DELAY_MS: String(DRAIN_DELAY_MS),
      SHUTDOWN_TIMEOUT_MS: '10000',
    });
    const instances = await Promise.all(ports.map((p) => startFixture(env(p))));
    procs.push(...instances);
    let haproxyErr = '';
    haproxy = spawn(HAPROXY!, ['-f', cfg, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
    haproxy.stderr!.on('data', (c: Buffer) => (haproxyErr += c.toString()));
    const serverStatus = async (): Promise<Record<string, string>> => {
      const rows = await stats(socket).catch(() => []);
      return Object.fromEntries(rows.filter((r) => r.pxname === 'be').map((r) => [r.svname!, r.status!]));
    };
    const waitUp = async (names: string[]): Promise<void> => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const s = await serverStatus();
        if (names.every((n) => s[n] === 'UP')) return;
        if (Date.now() > deadline) throw new Error(`servers not UP: ${JSON.stringify(s)} ${haproxyErr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await waitUp(['s1', 's2', 's3']);
    expect((await get(front, '/api/work')).status).toBe(200);

    // Load at a steady 60 req/s through haproxy while each instance in turn is stopped and replaced.
    let stopLoad!: () => void;
    const loadDone = new Promise<void>((r) => (stopLoad = r));
    const load = openLoop({ port: front, path: '/api/work', rate: 60, durationMs: 600_000, until: loadDone });
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const old = procs[i]!;
      old.proc.kill('SIGTERM');
      const exit = await old.exited;
      expect(exit.code).toBe(0); // a clean drain: no request was cut
      const s = await serverStatus();
      seen.push(`s${i + 1}:${s[`s${i + 1}`]}`);
      procs[i] = await startFixture(env(ports[i]!));
      await waitUp(['s1', 's2', 's3']);
    }
    await new Promise((r) => setTimeout(r, 500));
    stopLoad();
    const r = await load;

    expect(r.failed, JSON.stringify(r.failures)).toBe(0);
    expect(r.ok).toBe(r.sent);
    expect(r.sent).toBeGreaterThan(300);
    // haproxy saw each stopped instance go DOWN (from /ready) before it closed.
    expect(
      seen.every((s) => s.includes('DOWN') || s.includes('MAINT')),
      seen.join(' '),
    ).toBe(true);
    const rows = await stats(socket);
    const backend = rows.find((row) => row.pxname === 'be' && row.svname === 'BACKEND')!;
    const frontend = rows.find((row) => row.pxname === 'fe' && row.svname === 'FRONTEND')!;
    const servers = rows.filter((row) => row.pxname === 'be' && /^s\d$/.test(row.svname ?? ''));
    const counters = (row: Record<string, string>, names: string[]): Record<string, number> =>
      Object.fromEntries(names.map((n) => [n, Number(row[n] || 0)]));
    const zero = ['econ', 'eresp', 'wretr', 'wredis', 'hrsp_5xx'];
    expect(counters(backend, zero)).toEqual({ econ: 0, eresp: 0, wretr: 0, wredis: 0, hrsp_5xx: 0 });
    for (const s of servers) expect(counters(s, zero), s.svname).toEqual(Object.fromEntries(zero.map((n) => [n, 0])));
    expect(counters(frontend, ['ereq', 'hrsp_5xx'])).toEqual({ ereq: 0, hrsp_5xx: 0 });
    expect(Number(frontend.req_tot)).toBeGreaterThanOrEqual(r.sent); // every request went through haproxy
  }, 240_000);
});
