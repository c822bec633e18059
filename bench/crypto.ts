/**
 * Fernet throughput: encrypt and decrypt of a 1 KB plaintext, ops/s, gatehouse's Fernet against Python's
 * `cryptography.fernet` (what py_aide uses) measured in the same run. Rounds alternate between the two; each
 * Python round is one `python3` process that times its own loop (process start-up is not counted). The median
 * round is reported with the ratio gatehouse / Python (target >= 1.0).
 *
 * Then `Database` ENCRYPTED columns against a plain TEXT column in the same file: insert (rows of an id and an
 * 11-character SSN, in transactions of 1000) and fetch by primary key, rows/s, rounds rotating the order; the
 * median of the per-round ratios encrypted / plain is printed, and encrypted / a plain column holding a string as
 * long as a token (what the crypto costs beyond storing a longer value).
 *
 *   npm run bench:crypto            (ROUNDS=7 OPS=20000 DB_ROWS=20000 to change the work)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Fernet } from '../src/crypto/index.js';
import { Database } from '../src/database/index.js';

const ROUNDS = Number(process.env.ROUNDS ?? 7);
const OPS = Number(process.env.OPS ?? 20_000);
const DB_ROWS = Number(process.env.DB_ROWS ?? 20_000);

const key = Fernet.generateKey();
const fernet = new Fernet(key);
const plaintext = Buffer.alloc(1024, 'gatehouse fernet bench ');
const token = fernet.encrypt(plaintext);
if (!fernet.decrypt(token).equals(plaintext)) throw new Error('round trip failed');

const PYTHON = `
import json, os, sys, time
from cryptography.fernet import Fernet
f = Fernet(os.environ["KEY"].encode())
data = (b"gatehouse fernet bench " * 64)[:1024]
token = os.environ["TOKEN"].encode()
assert f.decrypt(token) == data
n = int(os.environ["OPS"])
t = time.perf_counter()
for _ in range(n):
    f.encrypt(data)
enc = n / (time.perf_counter() - t)
t = time.perf_counter()
for _ in range(n):
    f.decrypt(token)
dec = n / (time.perf_counter() - t)
print(json.dumps({"encrypt": enc, "decrypt": dec}))
`;

let sink = 0;

function nodeRound(): { encrypt: number; decrypt: number } {
  let start = process.hrtime.bigint();
  for (let i = 0; i < OPS; i++) sink += fernet.encrypt(plaintext).length;
  const encrypt = OPS / (Number(process.hrtime.bigint() - start) / 1e9);
  start = process.hrtime.bigint();
  for (let i = 0; i < OPS; i++) sink += fernet.decrypt(token).length;
  const decrypt = OPS / (Number(process.hrtime.bigint() - start) / 1e9);
  return { encrypt, decrypt };
}

function pythonRound(): { encrypt: number; decrypt: number } {
  const out = execFileSync('python3', ['-c', PYTHON], {
    env: { ...process.env, KEY: key, TOKEN: token, OPS: String(OPS) },
    encoding: 'utf8',
  });
  return JSON.parse(out) as { encrypt: number; decrypt: number };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const probe = spawnSync('python3', ['-c', 'import cryptography; print(cryptography.__version__)'], {
  encoding: 'utf8',
});
if (probe.status !== 0) {
  console.error('bench:crypto needs python3 with the cryptography package (pip install cryptography)');
  process.exit(1);
}
const pyVersion = probe.stdout.trim();

nodeRound(); // warm-up: JIT and OpenSSL contexts
const node = { encrypt: [] as number[], decrypt: [] as number[] };
const py = { encrypt: [] as number[], decrypt: [] as number[] };
for (let r = 0; r < ROUNDS; r++) {
  const n = nodeRound();
  const p = pythonRound();
  node.encrypt.push(n.encrypt);
  node.decrypt.push(n.decrypt);
  py.encrypt.push(p.encrypt);
  py.decrypt.push(p.decrypt);
}

console.log(
  `Fernet, 1 KB plaintext, ${OPS} ops x ${ROUNDS} rounds (median); Node ${process.version}, Python cryptography ${pyVersion}`,
);
console.log('| op      | gatehouse  | cryptography.fernet | ratio  |');
console.log('|---------|-----------:|--------------------:|-------:|');
for (const op of ['encrypt', 'decrypt'] as const) {
  const g = median(node[op]);
  const p = median(py[op]);
  console.log(`| ${op} | ${Math.round(g)}/s | ${Math.round(p)}/s | ${(g / p).toFixed(2)}x |`);
}

// ENCRYPTED column vs plain TEXT column, same file, same shape of rows. A third table stores a plain string as
// long as a token, to tell the cost of the crypto from the cost of storing a longer value.
type Table = 'plain' | 'sized' | 'sealed';
const TABLES: readonly Table[] = ['plain', 'sized', 'sealed'];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-crypto-'));
const db = new Database({
  path: path.join(dir, 'bench.db'),
  tables: {
    plain: 'id INTEGER PRIMARY KEY, ssn TEXT',
    sized: 'id INTEGER PRIMARY KEY, ssn TEXT',
    sealed: 'id INTEGER PRIMARY KEY, ssn ENCRYPTED',
  },
  encryptionKey: key,
});
const BATCH = 1000;
const lastId: Record<Table, number> = { plain: 0, sized: 0, sealed: 0 };
const tokenLength = fernet.encrypt('123-45-6789').length;

function insertRound(table: Table): number {
  const start = process.hrtime.bigint();
  for (let done = 0; done < DB_ROWS; done += BATCH) {
    const rows = [];
    for (let i = 0; i < BATCH; i++) {
      const id = ++lastId[table];
      const ssn = `${100 + (id % 900)}-45-${1000 + (id % 9000)}`;
      rows.push({ id, ssn: table === 'sized' ? ssn.padEnd(tokenLength, 'x') : ssn });
    }
    db.insert(table, rows);
  }
  return DB_ROWS / (Number(process.hrtime.bigint() - start) / 1e9);
}

function fetchRound(table: Table, ids: readonly number[]): number {
  const start = process.hrtime.bigint();
  for (const id of ids) sink += db.fetchOne<{ ssn: string }>(table, { where: { id } })?.ssn.length ?? 0;
  return ids.length / (Number(process.hrtime.bigint() - start) / 1e9);
}

const newRuns = (): Record<Table, number[]> & { ratio: number[]; sizedRatio: number[] } => ({
  plain: [],
  sized: [],
  sealed: [],
  ratio: [],
  sizedRatio: [],
});
const dbRuns = { insert: newRuns(), fetch: newRuns() };
for (const t of TABLES) insertRound(t); // warm-up: statements compiled, pages allocated
for (let r = 0; r < ROUNDS; r++) {
  // Rotate which table goes first, so a drift in machine load does not favour one.
  const order = TABLES.map((_, i) => TABLES[(i + r) % TABLES.length]!);
  const ins = {} as Record<Table, number>;
  for (const t of order) ins[t] = insertRound(t);
  // Every table holds the same ids (same number of rows inserted), so all fetch the same random ids.
  const ids = Array.from({ length: DB_ROWS }, () => 1 + Math.floor(Math.random() * lastId.plain));
  const fet = {} as Record<Table, number>;
  for (const t of order) fet[t] = fetchRound(t, ids);
  for (const [op, m] of [
    ['insert', ins],
    ['fetch', fet],
  ] as const) {
    for (const t of TABLES) dbRuns[op][t].push(m[t]);
    dbRuns[op].ratio.push(m.sealed / m.plain);
    dbRuns[op].sizedRatio.push(m.sealed / m.sized);
  }
}
await db.close();
fs.rmSync(dir, { recursive: true, force: true });

console.log('');
console.log(
  `Database ENCRYPTED column vs plain TEXT column, ${DB_ROWS} rows x ${ROUNDS} rounds (medians; 11-char value, insert in transactions of ${BATCH}, fetch by primary key; "sized" = plain TEXT holding a ${tokenLength}-char string, a token's length)`,
);
console.log('| op     | plain TEXT | sized TEXT | ENCRYPTED | ENCRYPTED / plain | ENCRYPTED / sized |');
console.log('|--------|-----------:|-----------:|----------:|------------------:|------------------:|');
for (const op of ['insert', 'fetch'] as const) {
  const runs = dbRuns[op];
  console.log(
    `| ${op} | ${Math.round(median(runs.plain))}/s | ${Math.round(median(runs.sized))}/s | ${Math.round(median(runs.sealed))}/s | ${median(runs.ratio).toFixed(2)}x | ${median(runs.sizedRatio).toFixed(2)}x |`,
  );
}
if (sink === 0) console.log('');
