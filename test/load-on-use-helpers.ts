/**
 * The load-on-use tests' one way to see what a process loads (API.md 14): run it fresh with the module-recording
 * hook (test/fixtures/record-modules.mjs), then read the packages among the module URLs it resolved.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the working directory of every recorded run. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const HOOK = fileURLToPath(new URL('./fixtures/record-modules.mjs', import.meta.url));

/** What a recorded run printed, how it exited, and every module URL it resolved, in order. */
export interface Recorded {
  code: number | null;
  stdout: string;
  stderr: string;
  modules: string[];
}

/** Options of {@link runRecorded}. */
export interface RecordOptions {
  /** Added to the parent's environment (without `VITEST`, so the child runs as an application would). */
  env?: Record<string, string>;
  /** Run TypeScript sources through tsx; false for compiled files. @defaultValue true */
  tsx?: boolean;
  /** Kill the child after this long. @defaultValue 120000 */
  timeoutMs?: number;
}

/** Run `node <args>` in a fresh process from the repository root, recording every module it resolves. */
export function runRecorded(args: readonly string[], options: RecordOptions = {}): Promise<Recorded> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-loads-'));
  const record = path.join(dir, 'modules.json');
  const env: Record<string, string | undefined> = { ...process.env, ...options.env, LOAD_RECORD: record };
  delete env.VITEST;
  const loaders = options.tsx === false ? ['--import', HOOK] : ['--import', HOOK, '--import', 'tsx'];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...loaders, ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 120_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => {
      let modules: string[] = [];
      try {
        modules = JSON.parse(readFileSync(record, 'utf8')) as string[];
      } catch {
        // The child died before its exit hook ran: nothing recorded (its code and output say why).
      }
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, stdout, stderr, modules });
    });
  });
}

/** The packages (folders under node_modules) among module URLs, sorted. */
export function packagesOf(urls: Iterable<string>): string[] {
  const names = new Set<string>();
  for (const url of urls) {
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
    if (m) names.add(m[1]!);
  }
  return [...names].sort();
}
