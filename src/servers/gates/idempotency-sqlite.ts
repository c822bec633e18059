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

/** Expired keys are swept once per this many claims, over twice as many rows (see `sweepNext`). */
const SWEEP_EVERY = 1000;
/**
 * WAL pages written before a commit checkpoints them into the file (SQLite's default is 1000). A checkpoint
 * copies the pages back and syncs the file, on the committing thread; every claim dirties a random page of
 * the key index, so checkpointing ten times less often rewrites each such page fewer times: about a fifth
 * of a key's cost here. The WAL grows to about 40 MB before it restarts.
 */
const WAL_AUTOCHECKPOINT_PAGES = 10_000;

/** The store's statements, prepared once when the file opens. */
interface Statements {
  renew: BetterSqlite3.Statement;
  release: BetterSqlite3.Statement;
  /** Every claim and completion queued during one event-loop turn, in one `BEGIN IMMEDIATE` transaction. */
  commit: (
    claims: readonly PendingClaim[],
    completions: readonly PendingCompletion[],
    now: number,
  ) => IdempotencyClaim[];
}

interface PendingClaim {
  request: IdempotencyBegin;
  resolve(claim: IdempotencyClaim): void;
  reject(err: Error): void;
}

interface PendingCompletion {
  key: string;
  owner: string;
  answer: StoredAnswer;
  resolve(): void;
  reject(err: Error): void;
}

/**
 * Idempotency keys in `<dataDir>/gatehouse-idempotency.db`, shared by the processes of one host and kept across
 * restarts; the file opens with the first idempotent request. Claims and completions are group-committed: those
 * queued during one event-loop turn are written in one `BEGIN IMMEDIATE` transaction (each caller's promise
 * settles once that commit is done, so an answer is still stored before it is sent). A commit is most of what a
 * key costs, so under load this about halves it. Inside the transaction a new key is one `INSERT OR IGNORE`; a
 * key that exists is read and taken over when its holder's lease ran out, so two processes racing for a key
 * cannot both start it. A key expires `ttlMs` after it was claimed (completing it does not move the expiry);
 * expired keys are swept a window of rowids at a time, without an index of their own.
 */
export class SqliteIdempotencyStore implements IdempotencyStore {
  readonly name = 'sqlite';
  private db: Database | undefined;
  private statements: Statements | undefined;
  private claims = 0;
  private closed = false;
  private queuedClaims: PendingClaim[] = [];
  private queuedCompletions: PendingCompletion[] = [];
  private flushing = false;

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
      migrations: [
        'CREATE INDEX IF NOT EXISTS idempotency_keys_expires ON idempotency_keys (expires_at)',
        // The sweep walks rowid ranges instead: an expiry index was one more random page for every claim.
        'DROP INDEX IF EXISTS idempotency_keys_expires',
      ],
    });
    const raw = this.db.raw();
    raw.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
    const claimNew = raw.prepare(
      "INSERT OR IGNORE INTO idempotency_keys (key, fingerprint, owner, state, lease_until, expires_at) VALUES (?, ?, ?, 'running', ?, ?)",
    );
    const read = raw.prepare(
      'SELECT fingerprint, state, lease_until, expires_at, status, headers, body FROM idempotency_keys WHERE key = ?',
    );
    const takeOver = raw.prepare(
      "UPDATE idempotency_keys SET fingerprint = ?, owner = ?, state = 'running', lease_until = ?, expires_at = ?, " +
        'status = NULL, headers = NULL, body = NULL WHERE key = ?',
    );
    const complete = raw.prepare(
      "UPDATE idempotency_keys SET state = 'done', status = ?, headers = ?, body = ? WHERE key = ? AND owner = ?",
    );
    const sweepRange = raw.prepare('DELETE FROM idempotency_keys WHERE rowid > ? AND rowid <= ? AND expires_at <= ?');
    const lastRowid = raw.prepare('SELECT max(rowid) FROM idempotency_keys').pluck();
    // An incremental sweep: each call deletes the expired keys among the next 2 * SWEEP_EVERY rowids and moves
    // on, wrapping after the last row. New keys take rowids at the end, at most SWEEP_EVERY between two calls,
    // so the cursor overtakes them and every key is looked at again within a bounded number of calls. It starts
    // at the oldest key, the likeliest to have expired, and runs once when the file opens, so a process that
    // restarts often still sweeps.
    let cursor = ((raw.prepare('SELECT min(rowid) FROM idempotency_keys').pluck().get() as number | null) ?? 1) - 1;
    const sweepNext = (now: number): void => {
      const to = cursor + 2 * SWEEP_EVERY;
      sweepRange.run(cursor, to, now);
      cursor = to >= ((lastRowid.get() as number | null) ?? 0) ? 0 : to;
    };
    const claim = (r: IdempotencyBegin, now: number): IdempotencyClaim => {
      // The common case, a new key, is one statement.
      if (claimNew.run(r.key, r.fingerprint, r.owner, now + r.leaseMs, now + r.ttlMs).changes === 1) return STARTED;
      // The insert was ignored, so the key exists (and stays: this transaction holds the write lock).
      const row = read.get(r.key) as KeyRow;
      // Expired, or held by a request whose lease ran out (its process died): the key is free.
      if (row.expires_at <= now || (row.state === 'running' && row.lease_until <= now)) {
        takeOver.run(r.fingerprint, r.owner, now + r.leaseMs, now + r.ttlMs, r.key);
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
    };
    const commit = raw.transaction(
      (claims: readonly PendingClaim[], completions: readonly PendingCompletion[], now: number) => {
        // Completions first: a retry queued behind its own answer replays it.
        for (const c of completions)
          complete.run(
            c.answer.status,
            c.answer.headers.length === 0 ? null : JSON.stringify(c.answer.headers),
            c.answer.body ?? null,
            c.key,
            c.owner,
          );
        const out: IdempotencyClaim[] = [];
        for (const c of claims) {
          if (++this.claims % SWEEP_EVERY === 0) sweepNext(now);
          out.push(claim(c.request, now));
        }
        return out;
      },
    );
    this.statements = {
      renew: raw.prepare(
        "UPDATE idempotency_keys SET lease_until = ? WHERE key = ? AND owner = ? AND state = 'running'",
      ),
      release: raw.prepare("DELETE FROM idempotency_keys WHERE key = ? AND owner = ? AND state = 'running'"),
      commit: commit.immediate.bind(null) as Statements['commit'],
    };
    sweepNext(Date.now());
    return this.statements;
  }

  /** Claim a key, or report what holds it (settles once the turn's batch is committed). */
  begin(r: IdempotencyBegin): Promise<IdempotencyClaim> {
    if (this.closed) return Promise.reject(new Error('the idempotency store is closed'));
    return new Promise((resolve, reject) => {
      this.queuedClaims.push({ request: r, resolve, reject });
      this.schedule();
    });
  }

  /** Extend a running claim's lease. */
  renew(key: string, owner: string, leaseMs: number): Promise<void> {
    if (!this.closed) this.open().renew.run(Date.now() + leaseMs, key, owner);
    return Promise.resolve();
  }

  /** Store a finished request's answer (settles once the turn's batch is committed). */
  complete(key: string, owner: string, answer: StoredAnswer): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the idempotency store is closed'));
    return new Promise((resolve, reject) => {
      this.queuedCompletions.push({ key, owner, answer, resolve, reject });
      this.schedule();
    });
  }

  /** Give up a running claim. */
  release(key: string, owner: string): Promise<void> {
    if (!this.closed) this.open().release.run(key, owner);
    return Promise.resolve();
  }

  /** Commit what is queued, then close the file, if it was opened. Safe to call twice. */
  close(): void {
    if (!this.closed && this.statements) this.flush();
    this.closed = true;
    this.statements = undefined;
    void this.db?.close();
    this.db = undefined;
  }

  private schedule(): void {
    if (this.flushing) return;
    this.flushing = true;
    // After the poll phase: every request whose body arrived in this turn is in the batch.
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushing = false;
    const claims = this.queuedClaims;
    const completions = this.queuedCompletions;
    if (claims.length === 0 && completions.length === 0) return;
    this.queuedClaims = [];
    this.queuedCompletions = [];
    let results: IdempotencyClaim[];
    try {
      if (this.closed) throw new Error('the idempotency store is closed');
      results = this.open().commit(claims, completions, Date.now());
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      for (const c of claims) c.reject(error);
      for (const c of completions) c.reject(error);
      return;
    }
    for (const c of completions) c.resolve();
    for (let i = 0; i < claims.length; i++) claims[i]!.resolve(results[i]!);
  }
}

const STARTED: IdempotencyClaim = { kind: 'started' };
const IN_FLIGHT: IdempotencyClaim = { kind: 'in-flight' };
const MISMATCH: IdempotencyClaim = { kind: 'mismatch' };
