/**
 * bench:client: sendRequest vs raw undici.request vs global fetch against a local node:http server,
 * measured in the same run with alternating rounds at fixed concurrency. Prints req/s and ratios.
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
import { closeDefaultClient, RequestConfig, sendRequest } from '../src/client/index.js';

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

function startServer(): Promise<http.Server> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(PAYLOAD) });
    res.end(PAYLOAD);
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
    fetch: async () => {
      const res = await fetch(url);
      const data: unknown = await res.json();
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      return data;
    },
  };
  const names = Object.keys(contenders);

  async function round(fn: () => Promise<unknown>, ms: number): Promise<number> {
    let done = 0;
    const until = performance.now() + ms;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (performance.now() < until) {
          await fn();
          done++;
        }
      }),
    );
    return done / ((performance.now() - start) / 1000);
  }

  console.log(
    `bench:client  server=${SERVER_MODE}  concurrency=${CONCURRENCY}  rounds=${ROUNDS} x ${ROUND_MS} ms  node ${process.version}`,
  );
  for (const n of names) await round(contenders[n] as () => Promise<unknown>, 300); // warm-up

  const results: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, [] as number[]]));
  for (let r = 0; r < ROUNDS; r++) {
    // Rotate the order each round so no contender always runs first/last.
    const order = names.map((_, i) => names[(i + r) % names.length] as string);
    const line: string[] = [];
    for (const n of order) {
      const rps = await round(contenders[n] as () => Promise<unknown>, ROUND_MS);
      results[n]?.push(rps);
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

  await agent.close();
  await closeDefaultClient();
  server?.closeAllConnections();
  server?.close();
  child?.disconnect();
}
