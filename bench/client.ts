/**
 * bench:client: sendRequest vs raw undici.request vs global fetch vs a typed service call against a local
 * node:http server, measured in the same run with alternating rounds at fixed concurrency; then a portal's
 * idempotent route (each request a first one, keys in SQLite) against the same route without idempotency.
 * Prints req/s and ratios.
 *
 *   npm run bench:client                       # server in this process (default)
 *   npm run bench:client -- --server=child     # server in a child process (client cost dominates)
 *   options: --rounds=5 --ms=1000 --concurrency=32
 */
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { closeDefaultClient, createClient, RequestConfig, sendRequest } from '../src/client/index.js';
import { defineEndpoint, ServicePortal, z } from '../src/index.js';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k ?? '', v ?? 'true'];
  }),
);
const ROUNDS = Number(args.get('rounds') ?? 5);
const ROUND_MS = Number(args.get('ms') ?? 1000);
const CONCURRENCY = Number(args.get('concurrency') ?? 32);
const SERVER_MODE = args.get('server') ?? 'same';

const PAYLOAD = JSON.stringify({ id: 42, name: 'note', tags: ['a', 'b'], done: false });

/** The route the typed client calls (its type only; the server below answers it). */
const noteRoutes = {
  note: defineEndpoint(
    {
      path: '/notes/:id',
      method: 'GET',
      gate: { auth: 'none' },
      input: z.object({ id: z.number() }),
      output: z.object({ id: z.number(), name: z.string(), tags: z.array(z.string()), done: z.boolean() }),
    },
    () => ({ id: 42, name: 'note', tags: ['a', 'b'], done: false }),
  ),
};
/** What a portal's /openapi.json says about that route: the typed client reads it once. */
const OPENAPI = JSON.stringify({
  openapi: '3.1.0',
  paths: { '/notes/{id}': { get: { operationId: 'note', responses: {} } } },
});

function startServer(): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const body = req.url === '/openapi.json' ? OPENAPI : PAYLOAD;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

if (process.argv.includes('--child-server')) {
  const server = await startServer();
  process.send?.({ port: (server.address() as AddressInfo).port });
  process.on('disconnect', () => process.exit(0));
} else {
  await main();
}

async function main(): Promise<void> {
  let port: number;
  let server: http.Server | undefined;
  let child: ChildProcess | undefined;
  if (SERVER_MODE === 'child') {
    child = fork(fileURLToPath(import.meta.url), ['--child-server'], { execArgv: ['--import', 'tsx'] });
    port = await new Promise<number>((resolve) => child?.once('message', (m) => resolve((m as { port: number }).port)));
  } else {
    server = await startServer();
    port = (server.address() as AddressInfo).port;
  }
  const origin = `http://127.0.0.1:${port}`;
  const url = `${origin}/notes/42`;
  const agent = new Agent({ keepAliveTimeout: 4000 });
  RequestConfig.baseUrl = origin;
  RequestConfig.silent = true;
  const sendOptions = { endpoint: '/notes/42' };
  const typed = createClient<typeof noteRoutes>({ baseUrl: origin, silent: true });
  // With the definitions in hand the client also validates each answer against the output schema.
  const validated = createClient(noteRoutes, { baseUrl: origin, silent: true });

  const contenders: Record<string, () => Promise<unknown>> = {
    'undici.request': async () => {
      const res = await request(url, { dispatcher: agent });
      const data = await res.body.json();
      if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
      return data;
    },
    sendRequest: async () => {
      const res = await sendRequest(sendOptions);
      if (!res.ok) throw new Error(`sendRequest failed: ${res.error?.code}`);
      return res.data;
    },
    typed: async () => {
      const res = await typed.note({ id: 42 });
      if (!res.ok) throw new Error(`typed call failed: ${res.problem.code}`);
      return res.data;
    },
    validated: async () => {
      const res = await validated.note({ id: 42 });
      if (!res.ok) throw new Error(`validated call failed: ${res.problem.code}`);
      return res.data;
    },
    fetch: async () => {
      const res = await fetch(url);
      const data: unknown = await res.json();
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      return data;
    },
  };
  const names = Object.keys(contenders);

  /** Process CPU per call (µs) of the last `round`: the client's alone with `--server=child`. */
  let lastCpuPerCall = 0;
  async function round(fn: () => Promise<unknown>, ms: number): Promise<number> {
    let done = 0;
    const until = performance.now() + ms;
    const start = performance.now();
    const cpu = process.cpuUsage();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (performance.now() < until) {
          await fn();
          done++;
        }
      }),
    );
    const used = process.cpuUsage(cpu);
    lastCpuPerCall = (used.user + used.system) / done;
    return done / ((performance.now() - start) / 1000);
  }

  console.log(
    `bench:client  server=${SERVER_MODE}  concurrency=${CONCURRENCY}  rounds=${ROUNDS} x ${ROUND_MS} ms  node ${process.version}`,
  );
  for (const n of names) await round(contenders[n] as () => Promise<unknown>, 300); // warm-up

  const results: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, [] as number[]]));
  const cpuPerCall: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, [] as number[]]));
  for (let r = 0; r < ROUNDS; r++) {
    // Rotate the order each round so no contender always runs first/last.
    const order = names.map((_, i) => names[(i + r) % names.length] as string);
    const line: string[] = [];
    for (const n of order) {
      const rps = await round(contenders[n] as () => Promise<unknown>, ROUND_MS);
      results[n]?.push(rps);
      cpuPerCall[n]?.push(lastCpuPerCall);
      line.push(`${n} ${Math.round(rps)}`);
    }
    console.log(`  round ${r + 1}: ${line.join('  ')}`);
  }

  const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)] ?? 0;
  };
  const med = Object.fromEntries(names.map((n) => [n, median(results[n] ?? [])]));
  const u = med['undici.request'] ?? 1;
  console.log('\nmedian req/s');
  for (const n of names) console.log(`  ${n.padEnd(15)} ${String(Math.round(med[n] ?? 0)).padStart(7)}`);
  const ratio = (med.sendRequest ?? 0) / u;
  console.log('\nratios');
  console.log(`  sendRequest / undici.request = ${ratio.toFixed(2)}  (target >= 0.85)`);
  console.log(`  fetch / undici.request       = ${((med.fetch ?? 0) / u).toFixed(2)}`);
  console.log(`  sendRequest / fetch          = ${((med.sendRequest ?? 0) / (med.fetch ?? 1)).toFixed(2)}`);
  const typedCost = (med.sendRequest ?? 0) / (med.typed ?? 1) - 1;
  console.log(`  typed call cost over sendRequest = ${(typedCost * 100).toFixed(1)}%  (target <= 5%)`);

  console.log(
    `  validated call cost over sendRequest = ${(((med.sendRequest ?? 0) / (med.validated ?? 1) - 1) * 100).toFixed(1)}%`,
  );
  await typedLayer(median(cpuPerCall.sendRequest ?? []));
  await typed.close();
  await validated.close();
  await idempotencyBench(round, median);

  await agent.close();
  await closeDefaultClient();
  server?.closeAllConnections();
  server?.close();
  child?.disconnect();
}

/**
 * The typed layer alone, free of the network's noise: typed clients whose HttpClient answers at once (its `send`
 * replaced on the instance), so what is timed is the Proxy, the route's plan, the path and query built from the
 * input, and the result (plus output validation for `validated`). Printed against the CPU of one `sendRequest` call
 * measured above: the client's alone with `--server=child`, client and server together otherwise.
 */
async function typedLayer(sendRequestCpuUs: number): Promise<void> {
  const answer = { ok: true, status: 200, data: JSON.parse(PAYLOAD) as unknown, headers: {}, error: null, attempts: 1 };
  const openapi = { ...answer, data: JSON.parse(OPENAPI) as unknown };
  const clients = {
    typed: createClient<typeof noteRoutes>({ baseUrl: 'http://127.0.0.1:9', silent: true }),
    validated: createClient(noteRoutes, { baseUrl: 'http://127.0.0.1:9', silent: true }),
  };
  const calls = 200_000;
  console.log(
    `\ntyped layer alone (HttpClient answering at once; sendRequest above: ${sendRequestCpuUs.toFixed(1)} µs CPU per call, ${SERVER_MODE === 'child' ? 'client only' : 'client and server'})`,
  );
  for (const [name, client] of Object.entries(clients)) {
    (client as unknown as { send: (o: { endpoint: string }) => Promise<unknown> }).send = (o) =>
      Promise.resolve(o.endpoint === '/openapi.json' ? openapi : answer);
    const times: number[] = [];
    for (let r = 0; r < 5; r++) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < calls; i++) {
        const res = await client.note({ id: 42 });
        if (!res.ok) throw new Error(`${name}: ${res.problem.code}`);
      }
      times.push(Number(process.hrtime.bigint() - start) / calls / 1000);
    }
    times.sort((a, b) => a - b);
    const us = times[2]!;
    console.log(
      `  ${name.padEnd(9)} ${(us * 1000).toFixed(0)} ns per call = ${((us / sendRequestCpuUs) * 100).toFixed(1)}% of a sendRequest call`,
    );
    await client.close();
  }
}

/**
 * A portal with the same POST route twice, one declaring `idempotency`: every request carries a fresh
 * Idempotency-Key (a first request: claim, run, store in SQLite), against the route without it.
 */
async function idempotencyBench(
  round: (fn: () => Promise<unknown>, ms: number) => Promise<number>,
  median: (xs: number[]) => number,
): Promise<void> {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-idem-'));
  const portal = new ServicePortal({ name: 'bench-idem', dataDir, requestLog: false, enforce: 'off' });
  const input = z.object({ amount: z.number() });
  portal.endpoint('/plain', { gate: { auth: 'none' }, input }, ({ input: i }) => ({ ok: true, amount: i.amount }));
  portal.endpoint('/idempotent', { gate: { auth: 'none', idempotency: {} }, input }, ({ input: i }) => ({
    ok: true,
    amount: i.amount,
  }));
  await portal.run({ port: 0, handleSignals: false });
  const client = createClient({ baseUrl: `http://127.0.0.1:${portal.port}`, silent: true, maxRetries: 0 });
  let n = 0;
  const post = (endpoint: string) => async (): Promise<unknown> => {
    const res = await client.send({
      method: 'POST',
      endpoint,
      body: { amount: 5 },
      headers: { 'idempotency-key': `k-${process.pid}-${++n}` },
    });
    if (res.status !== 200) throw new Error(`${endpoint}: ${res.status}`);
    return res.data;
  };
  const contenders: Record<string, () => Promise<unknown>> = { plain: post('/plain'), idempotent: post('/idempotent') };
  const names = Object.keys(contenders);
  for (const name of names) await round(contenders[name]!, 300);
  const results: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, [] as number[]]));
  console.log('\nidempotent route (first requests, SQLite) vs the same route without idempotency');
  for (let r = 0; r < ROUNDS; r++) {
    const order = names.map((_, i) => names[(i + r) % names.length]!);
    const line: string[] = [];
    for (const name of order) {
      const rps = await round(contenders[name]!, ROUND_MS);
      results[name]!.push(rps);
      line.push(`${name} ${Math.round(rps)}`);
    }
    console.log(`  round ${r + 1}: ${line.join('  ')}`);
  }
  const plain = median(results.plain!);
  const idem = median(results.idempotent!);
  console.log(`  median req/s: plain ${Math.round(plain)}  idempotent ${Math.round(idem)}`);
  console.log(`  idempotent first-request cost = ${((plain / idem - 1) * 100).toFixed(1)}%  (target <= 15%)`);
  await client.close();
  await portal.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
