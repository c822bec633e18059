import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';
import { probe, quantile, report, startChildControlPlane, type ChildControlPlane } from './attack-helpers.js';

const ADMIN = 'admin-token-for-hardening-tests-0123456789';
const AUTH = { authorization: `Bearer ${ADMIN}` };

/**
 * /health p99 bound while under attack, ms. The issue measured 3,800 ms; alone these attacks measure 20-170 ms,
 * and a full `npm test` on a shared 2-core machine (the attacker and the probe share the test process) reached
 * 543 ms once. The bound leaves room for that while staying far below a frozen event loop.
 */
const P99_BOUND_MS = 1000;

interface ProjectJson {
  name: string;
  state: string;
  instances: Array<{ connected: boolean; env: string | null }>;
  instancesOmitted: number;
}

describe('Hardening: the control plane under a hostile app host', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function start(options: Record<string, unknown>, projects: string[]): Promise<ChildControlPlane> {
    const { dir, cleanup } = tempDir('gatehouse-hardening-cp-');
    cleanups.push(cleanup);
    const cp = await startChildControlPlane(dir, { adminToken: ADMIN, ...options }, projects);
    cleanups.push(() => cp.stop());
    return cp;
  }

  function open(cp: ChildControlPlane, token: string): Promise<WebSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${cp.port}/ws/${token}`);
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
  }

  async function project(cp: ChildControlPlane, name: string): Promise<ProjectJson> {
    const res = await fetch(`${cp.base}/api/admin/projects/${name}`, { headers: AUTH });
    expect(res.status).toBe(200);
    return (await res.json()) as ProjectJson;
  }

  it('socket churn on one token: disconnected instances are capped and counted, snapshots stay cheap, /health stays fast', async () => {
    const cp = await start({}, ['victim', 'other']);
    const token = cp.tokens.victim!;
    const bystander = await open(cp, cp.tokens.other!);
    cleanups.push(() => bystander.terminate());
    // The attack: open and close sockets as fast as one client can, 10 at a time, for 3 s.
    const attack = (async () => {
      let n = 0;
      const until = Date.now() + 3000;
      while (Date.now() < until) {
        const batch = await Promise.all(Array.from({ length: 10 }, () => open(cp, token).catch(() => undefined)));
        for (const ws of batch) ws?.close();
        n += batch.filter(Boolean).length;
      }
      return n;
    })();
    // While it runs, a dashboard-like reader lists every project, and a probe measures /health.
    const listing: number[] = [];
    const lister = (async () => {
      while (listing.length < 1000) {
        const t = performance.now();
        const res = await fetch(`${cp.base}/api/admin/projects`, { headers: AUTH });
        await res.arrayBuffer();
        listing.push(performance.now() - t);
        if (await Promise.race([attack.then(() => true), new Promise((r) => setTimeout(() => r(false), 50))])) break;
      }
    })();
    const { latencies, statuses } = await probe(`${cp.base}/health`, attack);
    const opened = await attack;
    await lister;
    console.log(
      `${report(`control plane, ${opened} sockets opened and closed in 3 s`, latencies)}; /api/admin/projects p99 ${quantile(listing, 0.99).toFixed(1)} ms`,
    );
    expect(opened).toBeGreaterThan(300);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(quantile(latencies, 0.99)).toBeLessThan(P99_BOUND_MS);
    expect(quantile(listing, 0.99)).toBeLessThan(P99_BOUND_MS);
    // Listed: at most the cap; the rest counted, none lost from the count.
    await expect
      .poll(
        async () => {
          const p = await project(cp, 'victim');
          // Every socket closed (a loaded machine may still be closing some), none lost from the count.
          return p.instances.some((i) => i.connected) ? -1 : p.instances.length + p.instancesOmitted;
        },
        { timeout: 15_000 },
      )
      .toBe(opened);
    const p = await project(cp, 'victim');
    expect(p.instances.length).toBe(100);
    expect(p.instancesOmitted).toBe(opened - 100);
    // Nothing else changed: the other project's socket is listed and still follows its state.
    expect((await project(cp, 'other')).instances.filter((i) => i.connected)).toHaveLength(1);
    const frame = new Promise<Record<string, unknown>>((resolve) =>
      bystander.on('message', (d) => resolve(JSON.parse(d.toString()) as Record<string, unknown>)),
    );
    const set = await fetch(`${cp.base}/api/admin/projects/other/status`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ state: 'PAUSED', message: 'still here' }),
    });
    expect(set.status).toBe(200);
    expect(await frame).toMatchObject({ type: 'status', status: 'PAUSED', pause_message: 'still here' });
    expect((await project(cp, 'victim')).state).toBe('ACTIVE');
  }, 60_000);

  it('caps sockets per token: one more is refused with 429 before the upgrade; a closed one frees its slot', async () => {
    const cp = await start({ maxSocketsPerToken: 20 }, ['victim', 'other']);
    const token = cp.tokens.victim!;
    const sockets: WebSocket[] = [];
    for (let i = 0; i < 20; i++) sockets.push(await open(cp, token));
    cleanups.push(() => sockets.forEach((s) => s.terminate()));
    const refused = await Promise.all(
      Array.from({ length: 30 }, () =>
        open(cp, token).then(
          (ws) => (ws.terminate(), 'opened'),
          (err: Error) => err.message,
        ),
      ),
    );
    expect(refused).toEqual(Array(30).fill('HTTP 429'));
    // Another project's token is not affected; the victim's open sockets still work.
    const other = await open(cp, cp.tokens.other!);
    other.terminate();
    expect((await project(cp, 'victim')).instances.filter((i) => i.connected)).toHaveLength(20);
    sockets.pop()!.close();
    await expect.poll(async () => (await project(cp, 'victim')).instances.filter((i) => i.connected).length).toBe(19);
    sockets.push(await open(cp, token));
  }, 30_000);

  it('a heartbeat flood or an invalid frame closes that socket (1008), once; the others and /health are unaffected', async () => {
    const cp = await start({}, ['victim']);
    const token = cp.tokens.victim!;
    const good = await open(cp, token);
    cleanups.push(() => good.terminate());
    good.send(JSON.stringify({ type: 'heartbeat', env: 'good' }));
    const flooder = await open(cp, token);
    const frames: string[] = [];
    flooder.on('message', (d) => frames.push(d.toString()));
    const closed = new Promise<[number, string]>((resolve) =>
      flooder.once('close', (code, reason) => resolve([code, reason.toString()])),
    );
    const beat = JSON.stringify({ type: 'heartbeat', sdk_version: '9.9.9', language: 'node', env: 'flood' });
    const flood = (async () => {
      let sent = 0;
      // 50,000 heartbeats, as fast as the socket takes them (the issue's 500,000 in 5 s pinned a core).
      while (sent < 50_000 && flooder.readyState === WebSocket.OPEN) {
        for (let i = 0; i < 500; i++) flooder.send(beat);
        sent += 500;
        await new Promise((r) => setImmediate(r));
      }
      return sent;
    })();
    const { latencies } = await probe(`${cp.base}/health`, Promise.all([flood, closed]));
    const [code, reason] = await closed;
    console.log(report(`control plane, a socket flooding heartbeats (${await flood} sent)`, latencies));
    expect([code, reason]).toEqual([1008, 'message budget exceeded']);
    const errors = frames
      .map((f) => JSON.parse(f) as { type: string; code?: string })
      .filter((f) => f.type === 'error');
    expect(errors).toEqual([{ type: 'error', code: 'rate_limited', message: 'message budget exceeded' }]);
    expect(quantile(latencies, 0.99)).toBeLessThan(P99_BOUND_MS);
    // The well-behaved socket is still connected and its heartbeat kept.
    const p = await project(cp, 'victim');
    expect(p.instances.filter((i) => i.connected).map((i) => i.env)).toEqual(['good']);
    expect(good.readyState).toBe(WebSocket.OPEN);

    // Garbage: one error frame, then 1008, not an answer per frame.
    const garbage = await open(cp, token);
    const answers: string[] = [];
    garbage.on('message', (d) => answers.push(d.toString()));
    const gone = new Promise<number>((resolve) => garbage.once('close', (c) => resolve(c)));
    for (let i = 0; i < 1000; i++) garbage.send(`{not json ${i}`);
    expect(await gone).toBe(1008);
    expect(answers.filter((a) => a.includes('"error"'))).toHaveLength(1);
  }, 60_000);

  it('slows, then locks out, an address guessing the admin token (429 ERR_ADMIN_THROTTLED), logs and audits it', async () => {
    const cp = await start({ adminThrottle: { slowAfter: 5, slowIntervalMs: 100, lockAfter: 10, lockMs: 5000 } }, [
      'notes',
    ]);
    const guess = (i: number): Promise<Response> =>
      fetch(`${cp.base}/api/admin/projects`, { headers: { authorization: `Bearer guess-${i}-${'x'.repeat(30)}` } });
    const statuses: number[] = [];
    const started = Date.now();
    const attack = (async () => {
      // Guesses for 1.5 s (time-bound, not count-bound: a fast machine sends hundreds before the 500 ms the slow
      // phase needs), so the 5 s lock-out outlasts the attack.
      for (let i = 0; i < 20_000 && Date.now() - started < 1500; i++) {
        const res = await guess(i);
        statuses.push(res.status);
        if (res.status === 429) {
          const body = (await res.json()) as { code: string };
          expect(body.code).toBe('ERR_ADMIN_THROTTLED');
          expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        } else await res.arrayBuffer();
      }
    })();
    const { latencies } = await probe(`${cp.base}/health`, attack);
    await attack;
    console.log(report(`control plane, ${statuses.length} admin token guesses from one address`, latencies));
    // 5 answered at once, then at most one checked per 100 ms, then none: 10 checked in all.
    expect(statuses.length).toBeGreaterThan(100);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.filter((s) => s === 401)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(statuses.length - 10);
    expect(quantile(latencies, 0.99)).toBeLessThan(P99_BOUND_MS);
    // Locked out: the right token is refused too (a lock-out that let it through would confirm a guess).
    const locked = await fetch(`${cp.base}/api/admin/projects`, { headers: AUTH });
    expect(locked.status).toBe(429);
    // A bad token right after the lock-out ends (within the window) locks the address out again at once.
    await new Promise((r) => setTimeout(r, Number(locked.headers.get('retry-after')) * 1000 + 100));
    expect((await guess(1000)).status).toBe(401);
    expect((await fetch(`${cp.base}/api/admin/projects`, { headers: AUTH })).status).toBe(429);
    // The lock-out ends; the right token works again.
    await expect
      .poll(async () => (await fetch(`${cp.base}/api/admin/projects`, { headers: AUTH })).status, {
        timeout: 8000,
        interval: 200,
      })
      .toBe(200);
    const after = await fetch(`${cp.base}/api/admin/audit`, { headers: AUTH });
    expect(after.status).toBe(200);
    const { entries } = (await after.json()) as { entries: Array<{ action: string; actor: string }> };
    expect(entries.filter((e) => e.action === 'admin.auth-failed')).toHaveLength(11);
    expect(entries.filter((e) => e.action === 'admin.locked-out')).toHaveLength(2);
    expect(entries.find((e) => e.action === 'admin.locked-out')?.actor).toMatch(/^admin api (::ffff:)?127\.0\.0\.1$/);
    // Nothing changed.
    expect((await project(cp, 'notes')).state).toBe('ACTIVE');
    expect(entries.filter((e) => !e.action.startsWith('admin.')).map((e) => e.action)).toEqual(['project.create']);
    // Logged: one warn line per checked bad token, the last one saying locked out.
    await expect
      .poll(
        () =>
          cp.output
            .join('')
            .split('\n')
            .filter((l) => l.includes('bad admin token from')).length,
      )
      .toBe(11);
    expect(cp.output.join('')).toContain('locked out after 10 bad tokens');
  }, 60_000);
});
