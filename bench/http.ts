// npm run bench:http — req/s of the same JSON route on bare node:http, express 5, fastify and gatehouse,
// measured with autocannon against one server process. Cases run in shuffled, interleaved rounds so machine
// noise (the machine is shared) hits all alike; ratios are medians of per-round ratios (bench/harness.ts).
import { QUERY, runRounds, startServers, type Case } from './harness.js';

const { child, info: ports } = await startServers<Record<string, number> & { token: string; logFile: string }>(
  './http-servers.ts',
);

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
} satisfies Record<string, Case>;
type Key = keyof typeof CASES;

const { keys, ratio, cpuRatio } = await runRounds(child, CASES);
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
