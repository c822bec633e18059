// Shared by bench/http.ts and bench/peers.ts: servers in a child process, load from this process with autocannon,
// shuffled interleaved rounds (machine noise hits all cases alike), server CPU per request read over IPC. Ratios
// are medians of per-round ratios: on a shared virtual machine one case's µs/request moves by ±20% from one
// round to the next, so more, shorter rounds give a steadier median than a few long ones.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Server } from 'node:http';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { driveInMemory, type InMemoryResult, type InMemoryRun } from './in-memory.js';

/** Rounds and seconds per case and round when the script does not choose (BENCH_ROUNDS / BENCH_SECONDS override). */
const DEFAULT_ROUNDS = 5;
const DEFAULT_SECONDS = 3;
export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
export const QUERY = '?name=bench&count=3';
/** Whether cases are driven in memory, inside the servers process, instead of by autocannon over loopback. */
export const IN_MEMORY = process.env.BENCH_IN_MEMORY === '1';

export interface Case {
  name: string;
  url: string;
  headers?: Record<string, string>;
}

/** Starts a servers script (sibling of this file) in a child process; resolves with the JSON line it prints first. */
export async function startServers<T>(script: string): Promise<{ child: ChildProcess; info: T }> {
  // In memory, V8's allocation-site pretenuring is off: early in a run (all connections' requests alive at once,
  // the young generation still small) V8 may decide to allocate per-request objects straight into the old
  // generation for the rest of the process, which then spends about twice the CPU per request in full
  // collections (`--trace-gc`: scavenges keeping most of the heap, a mark-compact every ~250 ms; seen in 5 of 6
  // runs of one case, in none of 6 with the flag). Over loopback the servers keep V8's defaults.
  const v8Flags = IN_MEMORY ? ['--no-allocation-site-pretenuring'] : [];
  const child = spawn(process.execPath, [...v8Flags, '--import', 'tsx', new URL(script, import.meta.url).pathname], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    env: { ...process.env, GATEHOUSE_LOG_LEVEL: 'warn' },
  });
  const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve));
  return { child, info: JSON.parse(line) as T };
}

/**
 * In the servers process: answer the parent's 'cpu' requests with this process's CPU time, and (given the
 * servers by case key) its in-memory runs (`BENCH_IN_MEMORY=1`, see bench/in-memory.ts).
 */
export function answerCpu(servers: Record<string, Server> = {}): void {
  process.on('message', (m: 'cpu' | { inMemory: InMemoryRun }) => {
    if (m === 'cpu') process.send?.(process.cpuUsage());
    else if (typeof m === 'object' && m.inMemory) {
      const server = servers[m.inMemory.server];
      if (!server) throw new Error(`in-memory run: no server for case ${m.inMemory.server}`);
      void driveInMemory(server, m.inMemory).then((r) => process.send?.({ inMemory: r }));
    }
  });
}

function serverCpu(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (u: NodeJS.CpuUsage) => resolve(u.user + u.system));
    child.send('cpu');
  });
}

/** req/s as the client sees it, and the server's own CPU time per request (µs): on two cores the client shares the machine. */
async function measure(
  child: ChildProcess,
  c: Case,
  seconds: number,
  key: string,
): Promise<{ rps: number; p99: number; errors: number; non2xx: number; cpuUs: number }> {
  if (IN_MEMORY) {
    const url = new URL(c.url);
    const run: InMemoryRun = {
      server: key,
      target: url.pathname + url.search,
      headers: c.headers ?? {},
      seconds,
      connections: CONNECTIONS,
    };
    const r = await new Promise<InMemoryResult>((resolve) => {
      const onMessage = (m: { inMemory?: InMemoryResult }): void => {
        if (!m.inMemory) return;
        child.off('message', onMessage);
        resolve(m.inMemory);
      };
      child.on('message', onMessage);
      child.send({ inMemory: run });
    });
    return { rps: r.requests / (r.wallUs / 1e6), p99: 0, errors: 0, non2xx: r.non2xx, cpuUs: r.cpuUs };
  }
  const before = await serverCpu(child);
  const r = await autocannon({ url: c.url, connections: CONNECTIONS, duration: seconds, headers: c.headers });
  const cpu = (await serverCpu(child)) - before;
  return {
    rps: r.requests.average,
    p99: r.latency.p99,
    errors: r.errors,
    non2xx: r.non2xx,
    cpuUs: cpu / Math.max(1, r.requests.total),
  };
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

export interface Results<K extends string> {
  keys: K[];
  rps: Record<K, number[]>;
  p99: Record<K, number[]>;
  cpu: Record<K, number[]>;
  /** Median over rounds of a/b req/s measured in the same round. */
  ratio(a: K, b: K): string;
  /** The same for server CPU per request, as a speed ratio (b's µs over a's). */
  cpuRatio(a: K, b: K): string;
}

/**
 * Runs the cases (BENCH_CASES=a,b picks a subset: more rounds in the same time) in shuffled rounds after a warm-up,
 * prints each measurement and the medians, stops the child and returns the samples.
 */
export async function runRounds<K extends string>(
  child: ChildProcess,
  cases: Record<K, Case>,
  defaults: { rounds?: number; seconds?: number } = {},
): Promise<Results<K>> {
  const rounds = Number(process.env.BENCH_ROUNDS ?? defaults.rounds ?? DEFAULT_ROUNDS);
  const seconds = Number(process.env.BENCH_SECONDS ?? defaults.seconds ?? DEFAULT_SECONDS);
  const only = process.env.BENCH_CASES?.split(',').map((k) => k.trim());
  const keys = (Object.keys(cases) as K[]).filter((k) => !only || only.includes(k));
  const series = (): Record<K, number[]> =>
    Object.fromEntries(keys.map((k) => [k, [] as number[]])) as Record<K, number[]>;
  const rps = series();
  const p99 = series();
  const cpu = series();
  const width = Math.max(...keys.map((k) => cases[k].name.length));
  for (const k of keys) await measure(child, cases[k], 1, k); // warm-up
  for (let round = 1; round <= rounds; round++) {
    const order = [...keys].sort(() => Math.random() - 0.5);
    for (const k of order) {
      const m = await measure(child, cases[k], seconds, k);
      if (m.errors > 0 || m.non2xx > 0) console.warn(`  ! ${cases[k].name}: ${m.errors} errors, ${m.non2xx} non-2xx`);
      rps[k].push(m.rps);
      p99[k].push(m.p99);
      cpu[k].push(m.cpuUs);
      console.log(
        `round ${round}  ${cases[k].name.padEnd(width)} ${Math.round(m.rps).toString().padStart(7)} req/s  p99 ${m.p99} ms  server ${m.cpuUs.toFixed(1)} µs/req`,
      );
    }
  }
  child.kill('SIGTERM');
  console.log(
    `\nMedians of ${rounds} shuffled rounds, ${seconds}s each, ${CONNECTIONS} connections${IN_MEMORY ? ' in memory' : ''} (Node ${process.version}):`,
  );
  for (const k of keys) {
    console.log(
      `  ${cases[k].name.padEnd(width)} ${Math.round(median(rps[k])).toString().padStart(7)} req/s  p99 ${median(p99[k])} ms  server ${median(cpu[k]).toFixed(1)} µs/req`,
    );
  }
  return {
    keys,
    rps,
    p99,
    cpu,
    ratio: (a, b) => median(rps[a].map((v, i) => v / rps[b][i]!)).toFixed(2),
    cpuRatio: (a, b) => median(cpu[a].map((v, i) => cpu[b][i]! / v)).toFixed(2),
  };
}
