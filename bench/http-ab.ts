// npm run bench:http:ab -- <checkoutA> <checkoutB>: the bench:http servers of two checkouts (e.g. a worktree of
// the previous release and this one) running side by side, driven in shuffled interleaved rounds so machine noise
// hits both alike. Prints medians of per-round ratios: each version against its own bare node:http, and B against A.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';

const [dirA, dirB] = process.argv.slice(2);
if (!dirA || !dirB) {
  console.error('usage: npm run bench:http:ab -- <checkoutA> <checkoutB>');
  process.exit(2);
}
const ROUNDS = Number(process.env.ROUNDS ?? 8);
const SECONDS = Number(process.env.SECONDS ?? 2);
async function start(
  dir: string,
): Promise<{ child: ReturnType<typeof spawn>; ports: Record<string, number> & { token: string } }> {
  const child = spawn(process.execPath, ['--import', 'tsx', `${dir}/bench/http-servers.ts`], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    env: { ...process.env, GATEHOUSE_LOG_LEVEL: 'warn' },
  });
  const line = await new Promise<string>((r) => createInterface({ input: child.stdout! }).once('line', r));
  return { child, ports: JSON.parse(line) as Record<string, number> & { token: string } };
}
const a = await start(dirA);
const b = await start(dirB);
const Q = '?name=bench&count=3';
const targets = (
  label: string,
  p: Record<string, number> & { token: string },
): Array<{ key: string; url: string; headers?: Record<string, string> }> => [
  { key: `${label}.node`, url: `http://127.0.0.1:${p.node}/greet${Q}` },
  { key: `${label}.none`, url: `http://127.0.0.1:${p.gatehouse}/greet${Q}` },
  {
    key: `${label}.full`,
    url: `http://127.0.0.1:${p.gatehouseFull}/full${Q}`,
    headers: { authorization: `Bearer ${p.token}` },
  },
];
const all = [...targets('A', a.ports), ...targets('B', b.ports)];
for (const t of all) await autocannon({ url: t.url, connections: 50, duration: 1, headers: t.headers });
const rps: Record<string, number[]> = {};
for (let r = 0; r < ROUNDS; r++) {
  const order = [...all].sort(() => Math.random() - 0.5);
  for (const t of order) {
    const res = await autocannon({ url: t.url, connections: 50, duration: SECONDS, headers: t.headers });
    (rps[t.key] ??= []).push(res.requests.average);
  }
}
const med = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const ratio = (n: string, d: string): number => med(rps[n]!.map((v, i) => v / rps[d]![i]!));
for (const k of Object.keys(rps).sort()) console.log(k.padEnd(12), Math.round(med(rps[k]!)));
for (const v of ['A', 'B'])
  console.log(
    `${v}: none/node:http ${ratio(`${v}.none`, `${v}.node`).toFixed(2)}  full/node:http ${ratio(`${v}.full`, `${v}.node`).toFixed(2)}`,
  );
console.log(
  `B/A: none ${ratio('B.none', 'A.none').toFixed(3)}  full ${ratio('B.full', 'A.full').toFixed(3)}  node:http ${ratio('B.node', 'A.node').toFixed(3)}`,
);
a.child.kill();
b.child.kill();
