// npm run bench:http — req/s of the same JSON route on bare node:http, express 5, fastify and gatehouse,
// measured with autocannon against one server process, in alternating rounds, with ratios at the end.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);

const child = spawn(process.execPath, ['--import', 'tsx', new URL('./http-servers.ts', import.meta.url).pathname], {
  stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  env: { ...process.env, GATEHOUSE_LOG_LEVEL: 'warn' },
});
const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve));
const ports = JSON.parse(line) as Record<string, number> & { token: string };

const QUERY = '?name=bench&count=3';
const cases: Array<{ name: string; url: string; headers?: Record<string, string> }> = [
  { name: 'node:http (bare)', url: `http://127.0.0.1:${ports.node}/greet${QUERY}` },
  { name: 'express 5 (bare route)', url: `http://127.0.0.1:${ports.express}/greet${QUERY}` },
  { name: 'fastify 5', url: `http://127.0.0.1:${ports.fastify}/greet${QUERY}` },
  { name: "gatehouse auth:'none' + zod in/out", url: `http://127.0.0.1:${ports.gatehouse}/greet${QUERY}` },
  { name: 'gatehouse full gate (cache on)', url: `http://127.0.0.1:${ports.gatehouseFull}/full${QUERY}`, headers: { authorization: `Bearer ${ports.token}` } },
  { name: 'gatehouse full gate (cache off)', url: `http://127.0.0.1:${ports.gatehouseFullNoCache}/full${QUERY}`, headers: { authorization: `Bearer ${ports.token}` } },
];

function serverCpu(): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (u: NodeJS.CpuUsage) => resolve(u.user + u.system));
    child.send('cpu');
  });
}

/** req/s as the client sees it, and the server's own CPU time per request (µs): on two cores the client shares the machine. */
async function measure(c: (typeof cases)[number], seconds: number): Promise<{ rps: number; p99: number; errors: number; non2xx: number; cpuUs: number }> {
  const before = await serverCpu();
  const r = await autocannon({ url: c.url, connections: CONNECTIONS, duration: seconds, headers: c.headers });
  const cpu = (await serverCpu()) - before;
  return { rps: r.requests.average, p99: r.latency.p99, errors: r.errors, non2xx: r.non2xx, cpuUs: cpu / Math.max(1, r.requests.total) };
}

const results = new Map<string, number[]>(cases.map((c) => [c.name, []]));
const p99s = new Map<string, number[]>(cases.map((c) => [c.name, []]));
const cpus = new Map<string, number[]>(cases.map((c) => [c.name, []]));
for (const c of cases) await measure(c, 1); // warm-up
for (let round = 1; round <= ROUNDS; round++) {
  // Alternate the order so drift on a shared machine does not favour one case.
  const order = round % 2 === 1 ? cases : [...cases].reverse();
  for (const c of order) {
    const m = await measure(c, SECONDS);
    if (m.errors > 0 || m.non2xx > 0) console.warn(`  ! ${c.name}: ${m.errors} errors, ${m.non2xx} non-2xx`);
    results.get(c.name)!.push(m.rps);
    p99s.get(c.name)!.push(m.p99);
    cpus.get(c.name)!.push(m.cpuUs);
    console.log(`round ${round}  ${c.name.padEnd(36)} ${Math.round(m.rps).toString().padStart(7)} req/s  p99 ${m.p99} ms  server ${m.cpuUs.toFixed(1)} µs/req`);
  }
}
child.kill('SIGTERM');

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rps = (name: string): number => median(results.get(name)!);
console.log(`\nMedian of ${ROUNDS} rounds, ${SECONDS}s each, ${CONNECTIONS} connections:`);
const cpu = (name: string): number => median(cpus.get(name)!);
for (const c of cases) {
  console.log(`  ${c.name.padEnd(36)} ${Math.round(rps(c.name)).toString().padStart(7)} req/s  p99 ${median(p99s.get(c.name)!)} ms  server ${cpu(c.name).toFixed(1)} µs/req`);
}
const none = rps(cases[3]!.name);
const full = rps(cases[4]!.name);
const fullNoCache = rps(cases[5]!.name);
const bareExpress = rps(cases[1]!.name);
const bareNode = rps(cases[0]!.name);
const ratio = (a: number, b: number): string => (a / b).toFixed(2);
console.log('\nRatios:');
console.log(`  gatehouse none / express        ${ratio(none, bareExpress)}  (target >= 3.0)`);
console.log(`  gatehouse none / node:http      ${ratio(none, bareNode)}  (target >= 0.6)`);
console.log(`  full gate / gatehouse none      ${ratio(full, none)}  (target >= 0.85)`);
console.log(`  full gate / express             ${ratio(full, bareExpress)}  (target >= 2.5)`);
console.log(`  full gate, no token cache / none ${ratio(fullNoCache, none)}`);
console.log(`  gatehouse none / fastify        ${ratio(none, rps(cases[2]!.name))}`);
console.log('\nServer CPU per request (lower is better; ratios as speed, baseline µs / case µs):');
console.log(`  full gate vs none               ${ratio(cpu(cases[3]!.name), cpu(cases[4]!.name))}`);
console.log(`  none vs express                 ${ratio(cpu(cases[1]!.name), cpu(cases[3]!.name))}`);
console.log(`  none vs node:http               ${ratio(cpu(cases[0]!.name), cpu(cases[3]!.name))}`);
process.exit(0);
