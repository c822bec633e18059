// npm run bench:peers — server CPU per request of gatehouse against its peers on the same JSON route: bare
// node:http (and, as a control, the same sending gatehouse's response headers), bare fastify 5, and fastify 5
// assembled from its own plugins for the full gate's features; then the full gate with and without
// metrics/tracing and the request log, to show what each costs. Servers in a child process, load from this one
// (or, with BENCH_IN_MEMORY=1, in-memory connections inside it), shuffled interleaved rounds, medians
// (bench/harness.ts).
import { QUERY, runRounds, startServers, type Case } from './harness.js';

type Ports = Record<
  'node' | 'nodeHeaders' | 'fastify' | 'assembled' | 'none' | 'full' | 'fullUnobserved' | 'fullUnlogged',
  number
>;
const { child, info: p } = await startServers<Ports & { token: string; fastifyToken: string }>('./peers-servers.ts');

const url = (port: number, path: string): string => `http://127.0.0.1:${port}${path}${QUERY}`;
const auth = { authorization: `Bearer ${p.token}` };
const CASES = {
  node: { name: 'node:http (bare)', url: url(p.node, '/greet') },
  nodeHeaders: { name: "node:http + gatehouse's response headers", url: url(p.nodeHeaders, '/greet') },
  fastify: { name: 'fastify 5 (bare)', url: url(p.fastify, '/greet') },
  assembled: {
    name: 'fastify 5 + plugins, full features, log on',
    url: url(p.assembled, '/full'),
    headers: { authorization: `Bearer ${p.fastifyToken}` },
  },
  none: { name: "gatehouse auth:'none' + zod, defaults", url: url(p.none, '/greet') },
  full: { name: 'gatehouse full gate, defaults, log on', url: url(p.full, '/full'), headers: auth },
  fullUnobserved: { name: 'full gate, no metrics/tracing, log on', url: url(p.fullUnobserved, '/full'), headers: auth },
  fullUnlogged: { name: 'full gate, metrics/tracing on, log off', url: url(p.fullUnlogged, '/full'), headers: auth },
} satisfies Record<string, Case>;
type Key = keyof typeof CASES;

// 12 rounds of 2 s: the per-round ratios are what is noisy here, so more of them (about 3 minutes in all).
const { keys, ratio, cpuRatio } = await runRounds(child, CASES, { rounds: 12, seconds: 2 });
console.log('\nServer CPU speed ratios (median of per-round ratios of µs/request; req/s ratio after):');
const show = (label: string, a: Key, b: Key): void =>
  void (
    keys.includes(a) &&
    keys.includes(b) &&
    console.log(`  ${label.padEnd(40)} cpu ${cpuRatio(a, b)}   req/s ${ratio(a, b)}`)
  );
show('none / node:http', 'none', 'node');
show('none / fastify', 'none', 'fastify');
// The control: what the response's bytes cost a server that does nothing else (security headers, request id).
show("node:http + gatehouse's headers / node:http", 'nodeHeaders', 'node');
show("none / node:http + gatehouse's headers", 'none', 'nodeHeaders');
show('full / assembled fastify', 'full', 'assembled');
show('full: metrics+tracing on / off', 'full', 'fullUnobserved');
show('full: request log on / off', 'full', 'fullUnlogged');
process.exit(0);
