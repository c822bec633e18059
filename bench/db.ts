/**
 * `npm run bench:db`: ops/s through `Database` vs raw better-sqlite3 prepared statements, measured in the
 * same run on identical files (WAL, synchronous=NORMAL). Rounds alternate raw/Database back to back so machine
 * noise hits both; each round gives one paired ratio and the median paired ratio is printed (plus median ops/s).
 * Target: ratio >= 0.8 for insert and fetch.
 *
 * Both sides do the same work: the raw side also JSON.stringify()s / JSON.parse()s the JSON column.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Database } from '../src/database/index.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const OPS = Number(process.env.BENCH_OPS ?? 20_000);
const DECL = 'id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, meta JSON';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-db-'));
const raw = new BetterSqlite3(path.join(dir, 'raw.db'));
raw.pragma('journal_mode = WAL');
raw.pragma('synchronous = NORMAL');
raw.pragma('foreign_keys = ON');
raw.exec(`CREATE TABLE users (${DECL})`);
const db = new Database({ path: path.join(dir, 'gatehouse.db'), tables: { users: DECL } });

const rawInsert = raw.prepare('INSERT INTO users (name, email, meta) VALUES (?, ?, ?)');
const rawById = raw.prepare('SELECT * FROM users WHERE id = ?');
const rawRole = raw.prepare(`SELECT name, meta -> '$.role' AS role FROM users WHERE id = ?`);
const rawTx = raw.transaction((n: number, base: number) => {
  for (let i = 0; i < n; i++)
    rawInsert.run(`user${base + i}`, `u${i}@example.com`, JSON.stringify({ role: 'member', n: i }));
});

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function time(fn: () => void, ops: number): number {
  const start = process.hrtime.bigint();
  fn();
  const ns = Number(process.hrtime.bigint() - start);
  return ops / (ns / 1e9);
}

interface Case {
  name: string;
  ops: number;
  raw: () => void;
  db: () => void;
}

let seq = 0;
const cases: Case[] = [
  {
    name: 'insert (1 row, autocommit)',
    ops: OPS / 4,
    raw: () => {
      for (let i = 0; i < OPS / 4; i++)
        rawInsert.run(`user${seq++}`, `u${i}@example.com`, JSON.stringify({ role: 'member', n: i }));
    },
    db: () => {
      for (let i = 0; i < OPS / 4; i++)
        db.insert('users', { name: `user${seq++}`, email: `u${i}@example.com`, meta: { role: 'member', n: i } });
    },
  },
  {
    name: 'insert (1 row per call, in a transaction)',
    ops: OPS,
    raw: () => rawTx(OPS, (seq += OPS)),
    db: () =>
      db.transaction(() => {
        const base = (seq += OPS);
        for (let i = 0; i < OPS; i++)
          db.insert('users', { name: `user${base + i}`, email: `u${i}@example.com`, meta: { role: 'member', n: i } });
      }),
  },
  {
    name: 'fetch by id (SELECT *, JSON parsed)',
    ops: OPS,
    raw: () => {
      for (let i = 1; i <= OPS; i++) {
        const rows = rawById.all(i) as { meta: string | null }[];
        for (const row of rows)
          if (typeof row.meta === 'string') (row as Record<string, unknown>).meta = JSON.parse(row.meta);
      }
    },
    db: () => {
      for (let i = 1; i <= OPS; i++) db.fetch('users', { where: { id: i } });
    },
  },
  {
    name: "fetch columns ['name', 'meta::role'] by id",
    ops: OPS,
    raw: () => {
      for (let i = 1; i <= OPS; i++) {
        const rows = rawRole.all(i) as { role: string | null }[];
        for (const row of rows)
          if (typeof row.role === 'string') (row as Record<string, unknown>).role = JSON.parse(row.role);
      }
    },
    db: () => {
      for (let i = 1; i <= OPS; i++) db.fetch('users', { columns: ['name', 'meta::role'], where: { id: i } });
    },
  },
];

// Warm up both sides (JIT, page cache, statement caches) and seed enough rows for the fetch cases.
rawTx(OPS, 0);
db.transaction(() => {
  for (let i = 0; i < OPS; i++)
    db.insert('users', { name: `user${i}`, email: `u${i}@example.com`, meta: { role: 'member', n: i } });
});
for (const c of cases) {
  c.raw();
  c.db();
}

console.log(
  `Database vs raw better-sqlite3 (node ${process.version}, ${ROUNDS} alternating rounds; median ops/s, median paired ratio)\n`,
);
const results: { name: string; raw: number; db: number; ratio: number }[] = [];
for (const c of cases) {
  const rawOps: number[] = [];
  const dbOps: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which side goes first so drift (checkpoints, thermal) does not favour one.
    if (r % 2 === 0) {
      rawOps.push(time(c.raw, c.ops));
      dbOps.push(time(c.db, c.ops));
    } else {
      dbOps.push(time(c.db, c.ops));
      rawOps.push(time(c.raw, c.ops));
    }
    ratios.push((dbOps[r] as number) / (rawOps[r] as number));
  }
  const rawMed = median(rawOps);
  const dbMed = median(dbOps);
  results.push({ name: c.name, raw: rawMed, db: dbMed, ratio: median(ratios) });
}

const pad = Math.max(...results.map((r) => r.name.length));
console.log(`${'case'.padEnd(pad)}  ${'raw ops/s'.padStart(11)}  ${'Database ops/s'.padStart(14)}  ratio`);
for (const r of results) {
  const flag = r.ratio >= 0.8 ? 'ok' : 'BELOW 0.8';
  console.log(
    `${r.name.padEnd(pad)}  ${Math.round(r.raw).toLocaleString('en-US').padStart(11)}  ${Math.round(r.db).toLocaleString('en-US').padStart(14)}  ${r.ratio.toFixed(2)} ${flag}`,
  );
}

await db.close();
raw.close();
fs.rmSync(dir, { recursive: true, force: true });
