import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteSource } from '../../src/index.js';
import { makePortal, tempDir } from '../helpers.js';
import { runCli, startChild, type Child } from './processes.js';

async function within(ms: number, cond: () => Promise<boolean> | boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function storedState(dir: string): string | undefined {
  const store = new SqliteSource(dir);
  try {
    return store.read()?.state;
  } finally {
    store.close();
  }
}

describe('gatehouse lifecycle tells the truth (real processes, real files)', () => {
  const children: Child[] = [];
  const cleanups: (() => void)[] = [];
  afterEach(async () => {
    for (const c of children.splice(0)) {
      if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
      await c.exited;
    }
    for (const c of cleanups.splice(0)) c();
  });
  const dir = (): string => {
    const t = tempDir('gatehouse-cli-');
    cleanups.push(t.cleanup);
    return t.dir;
  };
  const child = async (env: Record<string, string>): Promise<Child> => {
    const c = await startChild(env);
    children.push(c);
    return c;
  };

  it('status and set on a folder that does not exist are an error (exit 2) and create nothing', async () => {
    const missing = path.join(dir(), 'mistyped-data');
    const status = await runCli(['lifecycle', 'status', '--data-dir', missing]);
    expect(status).toEqual({
      code: 2,
      stdout: '',
      stderr: `gatehouse lifecycle: no lifecycle store at ${missing}: the folder does not exist (check --data-dir; set --create makes a new store)\n`,
    });
    const set = await runCli(['lifecycle', 'set', 'MAINTENANCE', '--data-dir', missing]);
    expect(set.code).toBe(2);
    expect(set.stdout).toBe('');
    expect(set.stderr).toContain('the folder does not exist');
    expect(existsSync(missing)).toBe(false);
  });

  it('set on the folder of a portal that uses the memory source is an error naming the sqlite source, and creates no store', async () => {
    const data = dir();
    const portal = await child({ DATA_DIR: data, SOURCE: 'memory' });
    const before = readdirSync(data).sort();
    const set = await runCli(['lifecycle', 'set', 'MAINTENANCE', '--data-dir', data]);
    expect(set.code).toBe(2);
    expect(set.stdout).toBe('');
    expect(set.stderr).toBe(
      `gatehouse lifecycle: no lifecycle store in ${data}: gatehouse-lifecycle.db does not exist, so no portal with lifecycle source 'sqlite' has used this folder (check --data-dir; set --create makes a new store)\n`,
    );
    expect(readdirSync(data).sort()).toEqual(before);
    expect((await fetch(`http://127.0.0.1:${portal.port}/api/fast`)).status).toBe(200);
  });

  it('set with --create on a store nobody follows writes the state, warns on stderr, exits 0 (1 with --require-followers)', async () => {
    const data = path.join(dir(), 'fresh');
    const set = await runCli(['lifecycle', 'set', 'MAINTENANCE', '--create', '--data-dir', data]);
    expect(set.code).toBe(0);
    expect(set.stdout).toBe(`lifecycle set to MAINTENANCE in ${data}\n`);
    expect(set.stderr).toBe(
      `gatehouse lifecycle: warning: no running portal follows this store (no heartbeat in the last 5 s), so nothing is gated now. Portals follow it with lifecycle source 'sqlite' and dataDir ${data}, and pick the state up when they start.\n`,
    );
    expect(storedState(data)).toBe('MAINTENANCE');
    const strict = await runCli(['lifecycle', 'set', 'PAUSED', '--require-followers', '--data-dir', data]);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toContain('no running portal follows this store');
    expect(storedState(data)).toBe('PAUSED'); // written all the same
    const status = await runCli(['lifecycle', 'status', '--data-dir', data]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(
      /^PAUSED, set \S+ by cli pid \d+\nfollowers: none running \(no heartbeat in the last 5 s\)\n$/,
    );
  });

  it('set and status count the portals following the store; a closed portal leaves, a killed one stops counting', async () => {
    const data = dir();
    const a = await child({ DATA_DIR: data, SOURCE: 'sqlite' });
    const b = await child({ DATA_DIR: data, SOURCE: 'sqlite' });
    const set = await runCli(['lifecycle', 'set', 'MAINTENANCE', '--data-dir', data]);
    expect(set.stderr).toBe('');
    expect(set.code).toBe(0);
    expect(set.stdout).toMatch(
      new RegExp(
        `^lifecycle set to MAINTENANCE in ${data}: 2 running portals follow this store \\(fixture pid (${a.proc.pid}|${b.proc.pid}) on \\S+, fixture pid (${a.proc.pid}|${b.proc.pid}) on \\S+\\)\\n$`,
      ),
    );
    await within(1000, async () => (await fetch(`http://127.0.0.1:${a.port}/api/fast`)).status === 503);

    const json = await runCli(['lifecycle', 'status', '--json', '--data-dir', data]);
    const shown = JSON.parse(json.stdout) as {
      state: string;
      followers: { name: string; pid: number; lastSeen: string }[];
    };
    expect(shown.state).toBe('MAINTENANCE');
    expect(shown.followers.map((f) => f.pid).sort()).toEqual([a.proc.pid, b.proc.pid].sort());
    expect(shown.followers.every((f) => f.name === 'fixture' && Date.now() - Date.parse(f.lastSeen) < 5000)).toBe(true);

    a.proc.kill('SIGTERM'); // graceful: the portal closes its lifecycle, which removes its entry
    expect((await a.exited).code).toBe(0);
    b.proc.kill('SIGKILL'); // no goodbye: its entry stays, but its pid is gone
    await b.exited;
    const after = await runCli(['lifecycle', 'status', '--json', '--data-dir', data]);
    expect((JSON.parse(after.stdout) as { followers: unknown[] }).followers).toEqual([]);
    const store = new SqliteSource(data);
    try {
      expect(store.followers().map((f) => f.pid)).toEqual([b.proc.pid]);
    } finally {
      store.close();
    }
    const lonely = await runCli(['lifecycle', 'set', 'ACTIVE', '--data-dir', data]);
    expect(lonely.code).toBe(0);
    expect(lonely.stderr).toContain('warning: no running portal follows this store');
  });

  it('--file: a missing file nobody follows is an error; a portal following the file is counted and gated', async () => {
    const data = dir();
    const missing = path.join(data, 'nope.json');
    const status = await runCli(['lifecycle', 'status', '--file', missing]);
    expect(status).toEqual({
      code: 2,
      stdout: '',
      stderr: `gatehouse lifecycle: no lifecycle file at ${missing}, and no portal follows one there (check --file; set --create writes a new one)\n`,
    });
    expect(existsSync(missing)).toBe(false);

    const portal = await child({ DATA_DIR: data, SOURCE: 'file' });
    const file = path.join(data, 'lifecycle.json');
    await within(3000, () => existsSync(`${file}.followers`));
    const before = await runCli(['lifecycle', 'status', '--file', file]);
    expect(before.code).toBe(0);
    expect(before.stdout).toMatch(
      new RegExp(`^ACTIVE\\nfollowers: 1 running portal: fixture pid ${portal.proc.pid} on \\S+\\n$`),
    );
    const set = await runCli(['lifecycle', 'set', 'OFFLINE', '--message', 'Moving', '--file', file]);
    expect(set).toMatchObject({ code: 0, stderr: '' });
    expect(set.stdout).toMatch(
      new RegExp(
        `^lifecycle set to OFFLINE in ${file}: 1 running portal follows this store \\(fixture pid ${portal.proc.pid} on \\S+\\)\\n$`,
      ),
    );
    await within(2000, async () => (await fetch(`http://127.0.0.1:${portal.port}/api/fast`)).status === 503);
    portal.proc.kill('SIGTERM');
    expect((await portal.exited).code).toBe(0);
    expect(readdirSync(`${file}.followers`)).toEqual([]);
  });

  it('refuses contradictory flags with exit 2', async () => {
    const data = dir();
    mkdirSync(path.join(data, 'x'));
    writeFileSync(path.join(data, 'x', 'file.txt'), 'not a store');
    for (const [args, message] of [
      [['lifecycle', 'status', '--create', '--data-dir', data], /--create goes with set/],
      [
        ['lifecycle', 'set', 'PAUSED', '--file', path.join(data, 'f.json'), '--data-dir', data],
        /give --data-dir or --file, not both/,
      ],
      [['lifecycle', 'status', '--data-dir', path.join(data, 'x', 'y')], /the folder does not exist/],
      [
        ['lifecycle', 'set', 'PAUSED', '--data-dir', path.join(data, 'x', 'file.txt')],
        /: it is a file, not a folder \(check --data-dir\)$/m,
      ],
      [['lifecycle', 'set', 'PAUSED', '--file', path.join(data, 'x')], /: it is a folder \(check --file\)$/m],
    ] as const) {
      const r = await runCli([...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    expect(readdirSync(data)).toEqual(['x']);
    expect(readdirSync(path.join(data, 'x'))).toEqual(['file.txt']);
    expect(readFileSync(path.join(data, 'x', 'file.txt'), 'utf8')).toBe('not a store');
  });
});

describe('Lifecycle followers (in process)', () => {
  it('a portal following the sqlite store lists itself under its name while open and leaves on close', async () => {
    const made = makePortal({ name: 'billing', lifecycle: { source: 'sqlite' } });
    const dataDir = made.dir;
    const read = () => {
      const store = new SqliteSource(dataDir);
      try {
        return store.followers();
      } finally {
        store.close();
      }
    };
    try {
      expect(read()).toEqual([expect.objectContaining({ name: 'billing', pid: process.pid })]);
      const first = read()[0]!.lastSeen;
      await within(3000, () => (read()[0]?.lastSeen ?? 0) > first); // refreshed
      await made.portal.close();
      expect(read()).toEqual([]);
    } finally {
      await made.stop();
    }
  });
});
