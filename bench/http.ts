// npm run bench:http — req/s and server CPU of the same JSON route on bare node:http, fastify, gatehouse and, as
// an information row only (its speed moves with Node itself), express 5; autocannon against one server process.
// Cases run in shuffled, interleaved rounds so machine noise (the machine is shared) hits all alike; ratios are medians of per-round ratios (bench/harness.ts).
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
// The anchors are node:http (the ceiling) and fastify; npm run bench:peers holds the targets.
show('gatehouse none / node:http', 'none', 'node', '>= 0.85 cpu');
show('gatehouse none / fastify', 'none', 'fastify', '>= 0.9 cpu');
show('full gate: request log on / off', 'fullLogged', 'full', '>= 0.95 cpu');
show('full gate: metrics+tracing on / off', 'full', 'fullUnobserved', '>= 0.95 cpu');
show('full gate / gatehouse none', 'full', 'none');
show('full gate, no token cache / none', 'fullNoCache', 'none');
show('express (information) / node:http', 'express', 'node');
process.exit(0);
