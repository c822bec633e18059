// npm run bench:http — req/s of the same JSON route on bare node:http, express 5, fastify and gatehouse,
// measured with autocannon against one server process. Cases run in shuffled, interleaved rounds so machine
// noise (the machine is shared) hits all alike; ratios are medians of per-round ratios.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);

const child = spawn(process.execPath, ['--import', 'tsx', new URL('./http-servers.ts', import.meta.url).pathname], {
  stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  env: { ...process.env, GATEHOUSE_LOG_LEVEL: 'warn' },
});
const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve));
const ports = JSON.parse(line) as Record<string, number> & { token: string; logFile: string };

const QUERY = '?name=bench&count=3';
const auth = { authorization: `Bearer ${ports.token}` };
const CASES = {
  node: { name: 'node:http (bare)', url: `http://127.0.0.1:${ports.node}/greet${QUERY}` },
  express: { name: 'express 5 (bare route)', url: `http://127.0.0.1:${ports.express}/greet${QUERY}` },
  fastify: { name: 'fastify 5', url: `http://127.0.0.1:${ports.fastify}/greet${QUERY}` },
  none: { name: "gatehouse auth:'none' + zod in/out", url: `http://127.0.0.1:${ports.gatehouse}/greet${QUERY}` },
  full: {
    name: 'full gate, request log off',
    url: `http://127.0.0.1:${ports.gatehouseFull}/full${QUERY}`,
    headers: auth,
  },
  fullLogged: {
    name: 'full gate, request log on (file)',
    url: `http://127.0.0.1:${ports.gatehouseFullLogged}/full${QUERY}`,
    headers: auth,
  },
  fullUnobserved: {
    name: 'full gate, no metrics/tracing',
    url: `http://127.0.0.1:${ports.gatehouseFullUnobserved}/full${QUERY}`,
    headers: auth,
  },
  fullNoCache: {
    name: 'full gate, token cache off',
    url: `http://127.0.0.1:${ports.gatehouseFullNoCache}/full${QUERY}`,
    headers: auth,
  },
} satisfies Record<string, { name: string; url: string; headers?: Record<string, string> }>;
type Key = keyof typeof CASES;
// BENCH_CASES=full,fullLogged,express runs a subset (more rounds in the same time); ratios needing a missing case are skipped.
const only = process.env.BENCH_CASES?.split(',').map((k) => k.trim());
const keys = (Object.keys(CASES) as Key[]).filter((k) => !only || only.includes(k));

function serverCpu(): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (u: NodeJS.CpuUsage) => resolve(u.user + u.system));
    child.send('cpu');
  });
}

/** req/s as the client sees it, and the server's own CPU time per request (µs): on two cores the client shares the machine. */
async function measure(
  c: (typeof CASES)[Key],
  seconds: number,
): Promise<{ rps: number; p99: number; errors: number; non2xx: number; cpuUs: number }> {
  const before = await serverCpu();
  const r = await autocannon({
    url: c.url,
    connections: CONNECTIONS,
    duration: seconds,
    headers: 'headers' in c ? c.headers : undefined,
  });
  const cpu = (await serverCpu()) - before;
  return {
    rps: r.requests.average,
    p99: r.latency.p99,
    errors: r.errors,
    non2xx: r.non2xx,
    cpuUs: cpu / Math.max(1, r.requests.total),
  };
}

const rps = Object.fromEntries(keys.map((k) => [k, [] as number[]])) as Record<Key, number[]>;
const p99 = Object.fromEntries(keys.map((k) => [k, [] as number[]])) as Record<Key, number[]>;
const cpu = Object.fromEntries(keys.map((k) => [k, [] as number[]])) as Record<Key, number[]>;
for (const k of keys) await measure(CASES[k], 1); // warm-up
for (let round = 1; round <= ROUNDS; round++) {
  const order = [...keys].sort(() => Math.random() - 0.5);
  for (const k of order) {
    const m = await measure(CASES[k], SECONDS);
    if (m.errors > 0 || m.non2xx > 0) console.warn(`  ! ${CASES[k].name}: ${m.errors} errors, ${m.non2xx} non-2xx`);
    rps[k].push(m.rps);
    p99[k].push(m.p99);
    cpu[k].push(m.cpuUs);
    console.log(
      `round ${round}  ${CASES[k].name.padEnd(36)} ${Math.round(m.rps).toString().padStart(7)} req/s  p99 ${m.p99} ms  server ${m.cpuUs.toFixed(1)} µs/req`,
    );
  }
}
child.kill('SIGTERM');

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
/** Median over rounds of a/b measured in the same round. */
const ratio = (a: Key, b: Key): string => median(rps[a].map((v, i) => v / rps[b][i]!)).toFixed(2);
/** The same for server CPU per request, as a speed ratio (b's µs over a's). */
const cpuRatio = (a: Key, b: Key): string => median(cpu[a].map((v, i) => cpu[b][i]! / v)).toFixed(2);

console.log(
  `\nMedians of ${ROUNDS} shuffled rounds, ${SECONDS}s each, ${CONNECTIONS} connections (Node ${process.version}):`,
);
for (const k of keys) {
  console.log(
    `  ${CASES[k].name.padEnd(36)} ${Math.round(median(rps[k])).toString().padStart(7)} req/s  p99 ${median(p99[k])} ms  server ${median(cpu[k]).toFixed(1)} µs/req`,
  );
}
console.log('\nRatios (median of per-round ratios; req/s, then server CPU per request as speed):');
const show = (label: string, a: Key, b: Key, target?: string): void =>
  void (
    keys.includes(a) &&
    keys.includes(b) &&
    console.log(`  ${label.padEnd(40)} ${ratio(a, b)}   cpu ${cpuRatio(a, b)}${target ? `  (target ${target})` : ''}`)
  );
show('full gate: request log on / off', 'fullLogged', 'full', '>= 0.9');
show('full gate, request log on / express', 'fullLogged', 'express', '>= 2.5');
show('gatehouse none / express', 'none', 'express', '>= 3.0');
show('gatehouse none / node:http', 'none', 'node', '>= 0.6');
show('full gate / gatehouse none', 'full', 'none', '>= 0.85');
show('full gate / express', 'full', 'express', '>= 2.5');
show('full gate: metrics+tracing on / off', 'full', 'fullUnobserved');
show('full gate, no token cache / none', 'fullNoCache', 'none');
show('gatehouse none / fastify', 'none', 'fastify');
process.exit(0);
