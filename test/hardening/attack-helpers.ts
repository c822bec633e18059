import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ControlPlaneOptions } from '../../src/control-plane/index.js';

/** The value at quantile `q` (0..1) of `values`. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/**
 * Measure `GET url` one request after another until `done` settles: the latencies (ms) and the statuses. The
 * process under attack stays responsive when their p99 stays under a bound.
 */
export async function probe(url: string, done: Promise<unknown>): Promise<{ latencies: number[]; statuses: number[] }> {
  let finished = false;
  void done.finally(() => (finished = true));
  const latencies: number[] = [];
  const statuses: number[] = [];
  while (!finished || latencies.length < 20) {
    const started = performance.now();
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
      await res.arrayBuffer();
      statuses.push(res.status);
    } catch {
      statuses.push(0);
    }
    latencies.push(performance.now() - started);
    await new Promise((r) => setTimeout(r, 5));
  }
  return { latencies, statuses };
}

/** One line for the test log: what was measured. */
export function report(what: string, latencies: readonly number[]): string {
  return `[hardening] ${what}: p50 ${quantile(latencies, 0.5).toFixed(1)} ms, p99 ${quantile(latencies, 0.99).toFixed(1)} ms over ${latencies.length} probes`;
}

/** A control plane in a child process (its own event loop), listening on a free port. */
export interface ChildControlPlane {
  port: number;
  base: string;
  tokens: Record<string, string>;
  proc: ChildProcess;
  output: string[];
  stop(): Promise<void>;
}

const CHILD = fileURLToPath(new URL('./fixtures/control-plane-child.ts', import.meta.url));

/** Start a control plane in a child process with these options and projects (their tokens come back). */
export async function startChildControlPlane(
  dataDir: string,
  options: ControlPlaneOptions,
  projects: string[],
): Promise<ChildControlPlane> {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify({ dataDir, options, projects })], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GATEHOUSE_LOG_LEVEL: 'warn', GATEHOUSE_LOG_SYNC: '1' },
  });
  const output: string[] = [];
  proc.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  const first = await new Promise<{ port: number; tokens: Record<string, string> }>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`control plane child did not start: ${output.join('')}`)), 30_000);
    proc.stdout?.on('data', (d: Buffer) => {
      output.push(d.toString());
      buf += d.toString();
      for (const line of buf.split('\n')) {
        if (!line.startsWith('{"port"')) continue;
        clearTimeout(timer);
        resolve(JSON.parse(line) as { port: number; tokens: Record<string, string> });
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`control plane child exited with ${code}: ${output.join('')}`));
    });
  });
  return {
    ...first,
    proc,
    output,
    base: `http://127.0.0.1:${first.port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        const kill = setTimeout(() => proc.kill('SIGKILL'), 5000);
        proc.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        proc.kill('SIGTERM');
      }),
  };
}
