import { afterEach, describe, expect, it } from 'vitest';
import { Counter } from 'prom-client';
import { TaskBuffer, z } from '../../src/index.js';
import { makePortal } from '../helpers.js';
import { startRealtime } from '../realtime/helpers.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parse the Prometheus text exposition format (comments skipped, label values unescaped). */
function parseMetrics(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      types.set(name!, type!);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { samples, types };
}

function value(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

describe('Metrics', () => {
  const stops: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  });

  function portalWithNotes(options: Parameters<typeof makePortal>[0] = {}) {
    const made = makePortal({ name: 'metrics-test', ...options });
    stops.push(made.stop);
    made.portal.endpoint(
      '/api/notes/:id',
      { method: 'GET', description: 'a note', gate: { auth: 'none' }, input: z.object({ id: z.number().int() }) },
      ({ input }) => {
        if (input.id === 404) throw new Error('boom');
        return { id: input.id };
      },
    );
    made.portal.app.get('/legacy/:name', (_req, res) => {
      res.send('ok');
    });
    return made;
  }

  it('labels request durations with the route pattern, never the raw URL, and the counts grow', async () => {
    const { portal, start, url } = portalWithNotes();
    await start();
    for (const id of [1, 2, 3, 99]) expect((await fetch(url(`/api/notes/${id}`))).status).toBe(200);
    expect((await fetch(url('/api/notes/404'))).status).toBe(500);
    expect((await fetch(url('/api/notes/abc'))).status).toBe(400);
    await fetch(url('/legacy/ada'));
    await fetch(url('/nothing/here?x=1'));
    const res = await fetch(url('/metrics'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const { samples, types } = parseMetrics(await res.text());
    expect(types.get('http_request_duration_seconds')).toBe('histogram');
    const durations = samples.filter((s) => s.name === 'http_request_duration_seconds_count');
    const routes = new Set(durations.map((s) => s.labels.route));
    expect(routes).toEqual(new Set(['/api/notes/:id', '/legacy/:name', '<unmatched>']));
    expect(
      value(samples, 'http_request_duration_seconds_count', {
        method: 'GET',
        route: '/api/notes/:id',
        status_code: '200',
      }),
    ).toBe(4);
    expect(value(samples, 'http_request_duration_seconds_count', { route: '/api/notes/:id', status_code: '500' })).toBe(
      1,
    );
    expect(value(samples, 'http_request_duration_seconds_count', { route: '/api/notes/:id', status_code: '400' })).toBe(
      1,
    );
    expect(value(samples, 'http_request_duration_seconds_count', { route: '/legacy/:name', status_code: '200' })).toBe(
      1,
    );
    expect(value(samples, 'http_request_duration_seconds_count', { route: '<unmatched>', status_code: '404' })).toBe(1);
    expect(
      value(samples, 'http_request_duration_seconds_bucket', {
        route: '/api/notes/:id',
        status_code: '200',
        le: '+Inf',
      }),
    ).toBe(4);
    expect(
      value(samples, 'http_request_duration_seconds_sum', { route: '/api/notes/:id', status_code: '200' }),
    ).toBeGreaterThan(0);
    expect(value(samples, 'http_requests_in_flight', {})).toBe(1); // the scrape itself
    expect(value(samples, 'gatehouse_lifecycle_state', { state: 'ACTIVE' })).toBe(1);
    expect(value(samples, 'gatehouse_lifecycle_state', { state: 'MAINTENANCE' })).toBe(0);
    expect(value(samples, 'process_cpu_user_seconds_total', {})).toBeGreaterThan(0);

    for (const id of [5, 6]) await fetch(url(`/api/notes/${id}`));
    await portal.lifecycle.set('MAINTENANCE');
    const again = parseMetrics(await (await fetch(url('/metrics'))).text()).samples;
    expect(value(again, 'http_request_duration_seconds_count', { route: '/api/notes/:id', status_code: '200' })).toBe(
      6,
    );
    expect(value(again, 'gatehouse_lifecycle_state', { state: 'MAINTENANCE' })).toBe(1);
    expect(value(again, 'gatehouse_lifecycle_state', { state: 'ACTIVE' })).toBe(0);
  });

  it('keeps two portals in one process on their own registries, with the service metrics on portal.metrics', async () => {
    const a = portalWithNotes();
    const b = portalWithNotes({ metrics: { path: '/internal/metrics', defaultMetrics: false } });
    const orders = new Counter({ name: 'orders_total', help: 'orders', registers: [a.portal.metrics!] });
    orders.inc(3);
    await a.portal.inject({ url: '/api/notes/1' });
    await a.portal.inject({ url: '/api/notes/2' });
    await b.portal.inject({ url: '/api/notes/1' });
    const ma = parseMetrics((await a.portal.inject({ url: '/metrics' })).body).samples;
    const mb = parseMetrics((await b.portal.inject({ url: '/internal/metrics' })).body).samples;
    expect(value(ma, 'http_request_duration_seconds_count', { route: '/api/notes/:id' })).toBe(2);
    expect(value(mb, 'http_request_duration_seconds_count', { route: '/api/notes/:id' })).toBe(1);
    expect(value(ma, 'orders_total', {})).toBe(3);
    expect(value(mb, 'orders_total', {})).toBeUndefined();
    expect(value(mb, 'process_cpu_user_seconds_total', {})).toBeUndefined();
    expect((await b.portal.inject({ url: '/metrics' })).statusCode).toBe(404);
  });

  it('is gated like /status when a statusGate is set, and absent with metrics: false', async () => {
    const gated = portalWithNotes({ health: { statusGate: { auth: 'bearer', scopes: ['status:read'] } } });
    expect((await gated.portal.inject({ url: '/metrics' })).statusCode).toBe(401);
    const weak = await gated.portal.tokens.issue({ sub: 'ops', scopes: [] });
    expect(
      (await gated.portal.inject({ url: '/metrics', headers: { authorization: `Bearer ${weak}` } })).statusCode,
    ).toBe(403);
    const token = await gated.portal.tokens.issue({ sub: 'ops', scopes: ['status:read'] });
    const ok = await gated.portal.inject({ url: '/metrics', headers: { authorization: `Bearer ${token}` } });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain('# TYPE http_request_duration_seconds histogram');
    const off = portalWithNotes({ metrics: false });
    expect(off.portal.metrics).toBeUndefined();
    expect((await off.portal.inject({ url: '/metrics' })).statusCode).toBe(404);
  });

  it('shows jobs by state and job durations of a task buffer registered with onClose', async () => {
    const { portal, dir } = portalWithNotes();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const tasks = new TaskBuffer({
      dataDir: dir,
      queue: 'metrics_jobs',
      workers: 1,
      handlers: { WORK: async () => gate },
    });
    portal.onClose(tasks);
    tasks.start();
    tasks.push('WORK', {});
    tasks.push('WORK', {});
    await new Promise((r) => setTimeout(r, 100));
    const during = parseMetrics((await portal.inject({ url: '/metrics' })).body).samples;
    expect(value(during, 'gatehouse_queue_jobs', { queue: 'metrics_jobs', state: 'active' })).toBe(1);
    expect(value(during, 'gatehouse_queue_jobs', { queue: 'metrics_jobs', state: 'pending' })).toBe(1);
    const done = new Promise<void>((r) => {
      let n = 0;
      tasks.on('completed', () => ++n === 2 && r());
    });
    release();
    await done;
    await new Promise((r) => setTimeout(r, 20));
    const after = parseMetrics((await portal.inject({ url: '/metrics' })).body).samples;
    expect(value(after, 'gatehouse_queue_jobs', { queue: 'metrics_jobs', state: 'done' })).toBe(2);
    expect(
      value(after, 'gatehouse_job_duration_seconds_count', {
        queue: 'metrics_jobs',
        type: 'WORK',
        outcome: 'completed',
      }),
    ).toBe(2);
    expect(
      value(after, 'gatehouse_job_duration_seconds_sum', { queue: 'metrics_jobs', type: 'WORK', outcome: 'completed' }),
    ).toBeGreaterThan(0.05);
  });

  it('counts socket connections and events, with a live sockets gauge', async () => {
    const rt = await startRealtime({ name: 'metrics-rt' });
    stops.push(async () => {
      for (const c of rt.clients) c.close();
      await rt.stop();
    });
    rt.portal.onEvent('ping', { description: 'ping', gate: { auth: 'bearer' }, input: z.object({}) }, () => ({
      pong: true,
    }));
    const client = await rt.connect(await rt.token('u1'));
    for (let i = 0; i < 3; i++) await client.emitWithAck('ping', {});
    await client.emitWithAck('nope', {});
    const { samples } = parseMetrics(await (await fetch(`${rt.url}/metrics`)).text());
    expect(value(samples, 'gatehouse_socket_connections_total', {})).toBe(1);
    expect(value(samples, 'gatehouse_sockets', {})).toBe(1);
    expect(value(samples, 'gatehouse_socket_events_total', { event: 'ping' })).toBe(3);
    expect(value(samples, 'gatehouse_socket_events_total', { event: '<other>' })).toBe(1);
  });
});
