import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Database } from '../../src/index.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

let dir: string;
let children: ChildProcess[] = [];

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function run(script: string, args: string[]): { child: ChildProcess; exit: Promise<Exit> } {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(FIXTURES, script), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GATEHOUSE_LOG_LEVEL: 'silent' },
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<Exit>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, exit };
}

function waitForOutput(child: ChildProcess, text: string, times = 1): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = 0;
    let buffer = '';
    child.stdout?.on('data', (d: Buffer) => {
      buffer += d.toString();
      let index = buffer.indexOf(text);
      while (index !== -1) {
        seen++;
        buffer = buffer.slice(index + text.length);
        index = buffer.indexOf(text);
      }
      if (seen >= times) resolve();
    });
    child.on('exit', () => reject(new Error(`child exited before printing ${JSON.stringify(text)} ${times}x`)));
  });
}

function verify(file: string): { integrity: unknown; rows: { batch: number; n: number }[] } {
  const db = new Database({ path: file });
  try {
    return {
      integrity: db.query('PRAGMA integrity_check'),
      rows: db.query<{ batch: number; n: number }>(
        'SELECT batch, COUNT(*) AS n FROM items GROUP BY batch ORDER BY batch',
      ),
    };
  } finally {
    void db.close();
  }
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-db-proc-'));
  children = [];
});

afterEach(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('Database across processes', () => {
  it('two processes writing 5,000 rows each concurrently end with 10,000 rows and no SQLITE_BUSY', async () => {
    const file = path.join(dir, 'shared.db');
    const a = run('writer.ts', [file, 'a', '5000']);
    const b = run('writer.ts', [file, 'b', '5000']);
    await Promise.all([waitForOutput(a.child, 'ready'), waitForOutput(b.child, 'ready')]);
    fs.writeFileSync(`${file}.go`, '');
    const [ea, eb] = await Promise.all([a.exit, b.exit]);
    expect(ea.stderr).toBe('');
    expect(eb.stderr).toBe('');
    expect([ea.code, eb.code]).toEqual([0, 0]);
    expect(ea.stdout).toContain('done a');
    expect(eb.stdout).toContain('done b');
    const db = new Database({ path: file });
    try {
      expect(db.count('items')).toBe(10_000);
      expect(db.query('SELECT tag, COUNT(DISTINCT n) AS n FROM items GROUP BY tag ORDER BY tag')).toEqual([
        { tag: 'a', n: 5000 },
        { tag: 'b', n: 5000 },
      ]);
      expect(
        db.fetchOne('items', { columns: ['data::n as n', 'data::tag as tag'], where: { tag: 'b', n: 4999 } }),
      ).toEqual({
        n: 4999,
        tag: 'b',
      });
      expect(db.query('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
      // The writers really ran at the same time: each started before the other finished.
      const span = (out: string): [number, number] => [
        Number(/start (\d+)/.exec(out)?.[1]),
        Number(/done \w+ (\d+)/.exec(out)?.[1]),
      ];
      const [startA, endA] = span(ea.stdout);
      const [startB, endB] = span(eb.stdout);
      expect(startA).toBeLessThan(endB);
      expect(startB).toBeLessThan(endA);
    } finally {
      await db.close();
    }
  }, 90_000);

  it('three processes starting at once apply each migration exactly once', async () => {
    const file = path.join(dir, 'migrate.db');
    const runs = [run('migrator.ts', [file]), run('migrator.ts', [file]), run('migrator.ts', [file])];
    await Promise.all(runs.map((r) => waitForOutput(r.child, 'ready')));
    fs.writeFileSync(`${file}.go`, '');
    const exits = await Promise.all(runs.map((r) => r.exit));
    for (const e of exits) {
      expect(e.stderr).toBe('');
      expect(e.code).toBe(0);
    }
    const db = new Database({ path: file });
    try {
      expect(db.queryOne('PRAGMA user_version')).toEqual({ user_version: 3 });
      expect(db.count('log')).toBe(1);
    } finally {
      await db.close();
    }
  }, 60_000);

  it('kill -9 inside an open transaction loses the whole transaction and nothing else', async () => {
    const file = path.join(dir, 'crash.db');
    const { child, exit } = run('crasher.ts', [file, 'hang', '1000', '3000']);
    await waitForOutput(child, 'inside');
    child.kill('SIGKILL');
    const result = await exit;
    expect(result.signal).toBe('SIGKILL');
    const { integrity, rows } = verify(file);
    expect(integrity).toEqual([{ integrity_check: 'ok' }]);
    expect(rows).toEqual([{ batch: 0, n: 1000 }]);
  }, 60_000);

  it('kill -9 at an arbitrary moment of a write loop leaves only whole transactions', async () => {
    const file = path.join(dir, 'loop.db');
    const { child, exit } = run('crasher.ts', [file, 'loop']);
    // Let it commit a few batches, then kill it while it is busy writing the next ones.
    await waitForOutput(child, 'batch', 20);
    await new Promise((resolve) => setTimeout(resolve, 15));
    child.kill('SIGKILL');
    await exit;
    const { integrity, rows } = verify(file);
    expect(integrity).toEqual([{ integrity_check: 'ok' }]);
    expect(rows.length).toBeGreaterThanOrEqual(20);
    // Every batch that exists is complete, and the batches are contiguous from 1.
    rows.forEach((row, i) => expect(row).toEqual({ batch: i + 1, n: 100 }));
  }, 60_000);
});
