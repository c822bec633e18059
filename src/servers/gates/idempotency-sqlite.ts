import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { Database } from '../../database/index.js';
import type { IdempotencyBegin, IdempotencyClaim, IdempotencyStore, StoredAnswer } from './idempotency-store.js';

interface KeyRow {
  fingerprint: string;
  state: string;
  lease_until: number;
  expires_at: number;
  status: number | null;
  headers: string | null;
  body: string | null;
}

/** Expired keys are swept once per this many claims (and when the store opens). */
const SWEEP_EVERY = 1000;

/** The store's statements, prepared once when the file opens. */
interface Statements {
  claimNew: BetterSqlite3.Statement;
  read: BetterSqlite3.Statement;
  takeOver: BetterSqlite3.Statement;
  renew: BetterSqlite3.Statement;
  complete: BetterSqlite3.Statement;
  release: BetterSqlite3.Statement;
  sweep: BetterSqlite3.Statement;
  /** The slow path of a claim (the key exists): read and maybe take over, in one `BEGIN IMMEDIATE`. */
  contended: (r: IdempotencyBegin, now: number) => IdempotencyClaim;
}

/**
 * Idempotency keys in `<dataDir>/gatehouse-idempotency.db`, shared by the processes of one host and kept across
 * restarts; the file opens with the first idempotent request. A new key is one `INSERT OR IGNORE`; a key that
 * exists is read (and taken over when its holder's lease ran out) in one `BEGIN IMMEDIATE` transaction, so two
 * processes racing for a key cannot both start it.
 */
export class SqliteIdempotencyStore implements IdempotencyStore {
  readonly name = 'sqlite';
  private db: Database | undefined;
  private statements: Statements | undefined;
  private claims = 0;
  private closed = false;

  constructor(private readonly dataDir: string) {}

  private open(): Statements {
    if (this.statements) return this.statements;
    mkdirSync(this.dataDir, { recursive: true });
    this.db = new Database({
      path: join(this.dataDir, 'gatehouse-idempotency.db'),
      tables: {
        idempotency_keys:
          'key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, owner TEXT NOT NULL, state TEXT NOT NULL, ' +
          'lease_until INTEGER NOT NULL, expires_at INTEGER NOT NULL, status INTEGER, headers TEXT, body TEXT',
      },
    });
    const raw = this.db.raw();
    const read = raw.prepare(
      'SELECT fingerprint, state, lease_until, expires_at, status, headers, body FROM idempotency_keys WHERE key = ?',
    );
    const takeOver = raw.prepare(
      "UPDATE idempotency_keys SET fingerprint = ?, owner = ?, state = 'running', lease_until = ?, expires_at = ?, " +
        'status = NULL, headers = NULL, body = NULL WHERE key = ?',
    );
    const contended = raw
      .transaction((r: IdempotencyBegin, now: number): IdempotencyClaim => {
        const row = read.get(r.key) as KeyRow | undefined;
        // Gone meanwhile, expired, or held by a request whose lease ran out (its process died): the key is free.
        if (row === undefined || row.expires_at <= now || (row.state === 'running' && row.lease_until <= now)) {
          if (row === undefined)
            this.statements!.claimNew.run(r.key, r.fingerprint, r.owner, now + r.leaseMs, now + r.ttlMs);
          else takeOver.run(r.fingerprint, r.owner, now + r.leaseMs, now + r.ttlMs, r.key);
          return STARTED;
        }
        if (row.fingerprint !== r.fingerprint) return MISMATCH;
        if (row.state !== 'done') return IN_FLIGHT;
        return {
          kind: 'replay',
          answer: {
            status: row.status ?? 200,
            headers: row.headers === null ? [] : (JSON.parse(row.headers) as string[]),
            body: row.body ?? undefined,
          },
        };
      })
      .immediate.bind(null) as Statements['contended'];
    this.statements = {
      claimNew: raw.prepare(
        "INSERT OR IGNORE INTO idempotency_keys (key, fingerprint, owner, state, lease_until, expires_at) VALUES (?, ?, ?, 'running', ?, ?)",
      ),
      read,
      takeOver,
      renew: raw.prepare(
        "UPDATE idempotency_keys SET lease_until = ? WHERE key = ? AND owner = ? AND state = 'running'",
      ),
      complete: raw.prepare(
        "UPDATE idempotency_keys SET state = 'done', status = ?, headers = ?, body = ?, expires_at = ? WHERE key = ? AND owner = ?",
      ),
      release: raw.prepare("DELETE FROM idempotency_keys WHERE key = ? AND owner = ? AND state = 'running'"),
      sweep: raw.prepare('DELETE FROM idempotency_keys WHERE expires_at <= ?'),
      contended,
    };
    this.statements.sweep.run(Date.now());
    return this.statements;
  }

  /** Claim a key, or report what holds it. */
  begin(r: IdempotencyBegin): Promise<IdempotencyClaim> {
    if (this.closed) return Promise.reject(new Error('the idempotency store is closed'));
    try {
      const st = this.open();
      const now = Date.now();
      if (++this.claims % SWEEP_EVERY === 0) st.sweep.run(now);
      // The common case, a new key, is one statement.
      if (st.claimNew.run(r.key, r.fingerprint, r.owner, now + r.leaseMs, now + r.ttlMs).changes === 1)
        return Promise.resolve(STARTED);
      return Promise.resolve(st.contended(r, now));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Extend a running claim's lease. */
  renew(key: string, owner: string, leaseMs: number): Promise<void> {
    if (!this.closed) this.open().renew.run(Date.now() + leaseMs, key, owner);
    return Promise.resolve();
  }

  /** Store a finished request's answer. */
  complete(key: string, owner: string, answer: StoredAnswer, ttlMs: number): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the idempotency store is closed'));
    try {
      this.open().complete.run(
        answer.status,
        answer.headers.length === 0 ? null : JSON.stringify(answer.headers),
        answer.body ?? null,
        Date.now() + ttlMs,
        key,
        owner,
      );
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Give up a running claim. */
  release(key: string, owner: string): Promise<void> {
    if (!this.closed) this.open().release.run(key, owner);
    return Promise.resolve();
  }

  /** Close the file, if it was opened. Safe to call twice. */
  close(): void {
    this.closed = true;
    this.statements = undefined;
    void this.db?.close();
    this.db = undefined;
  }
}

const STARTED: IdempotencyClaim = { kind: 'started' };
const IN_FLIGHT: IdempotencyClaim = { kind: 'in-flight' };
const MISMATCH: IdempotencyClaim = { kind: 'mismatch' };
