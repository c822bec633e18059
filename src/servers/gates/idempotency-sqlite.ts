import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Database } from '../../database/index.js';
import type { IdempotencyBegin, IdempotencyClaim, IdempotencyStore, StoredAnswer } from './idempotency-store.js';

interface KeyRow {
  fingerprint: string;
  owner: string;
  state: string;
  lease_until: number;
  expires_at: number;
  status: number | null;
  headers: string | null;
  body: string | null;
}

/** Expired keys are swept once per this many claims (and when the store opens). */
const SWEEP_EVERY = 1000;

/**
 * Idempotency keys in `<dataDir>/gatehouse-idempotency.db`, shared by the processes of one host and kept across
 * restarts; the file opens with the first idempotent request. Each claim is one `BEGIN IMMEDIATE` transaction, so
 * two processes racing for a key cannot both start it.
 */
export class SqliteIdempotencyStore implements IdempotencyStore {
  readonly name = 'sqlite';
  private db: Database | undefined;
  private claims = 0;
  private closed = false;

  constructor(private readonly dataDir: string) {}

  private open(): Database {
    if (this.db) return this.db;
    mkdirSync(this.dataDir, { recursive: true });
    this.db = new Database({
      path: join(this.dataDir, 'gatehouse-idempotency.db'),
      tables: {
        idempotency_keys:
          'key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, owner TEXT NOT NULL, state TEXT NOT NULL, ' +
          'lease_until INTEGER NOT NULL, expires_at INTEGER NOT NULL, status INTEGER, headers TEXT, body TEXT',
      },
    });
    this.sweep();
    return this.db;
  }

  private sweep(): void {
    this.db?.execute('DELETE FROM idempotency_keys WHERE expires_at <= ?', [Date.now()]);
  }

  /** Claim a key, or report what holds it (one transaction). */
  begin(r: IdempotencyBegin): Promise<IdempotencyClaim> {
    if (this.closed) return Promise.reject(new Error('the idempotency store is closed'));
    const db = this.open();
    if (++this.claims % SWEEP_EVERY === 0) this.sweep();
    const claim = db.transaction((tx): IdempotencyClaim => {
      const now = Date.now();
      const row = tx.queryOne<KeyRow & Record<string, unknown>>(
        'SELECT fingerprint, owner, state, lease_until, expires_at, status, headers, body FROM idempotency_keys WHERE key = ?',
        [r.key],
      );
      // Absent, expired, or held by a request whose lease ran out (its process died): the key is free.
      if (row === undefined || row.expires_at <= now || (row.state === 'running' && row.lease_until <= now)) {
        tx.execute(
          'INSERT INTO idempotency_keys (key, fingerprint, owner, state, lease_until, expires_at) VALUES (?, ?, ?, ?, ?, ?) ' +
            'ON CONFLICT(key) DO UPDATE SET fingerprint = excluded.fingerprint, owner = excluded.owner, state = excluded.state, ' +
            'lease_until = excluded.lease_until, expires_at = excluded.expires_at, status = NULL, headers = NULL, body = NULL',
          [r.key, r.fingerprint, r.owner, 'running', now + r.leaseMs, now + r.ttlMs],
        );
        return { kind: 'started' };
      }
      if (row.fingerprint !== r.fingerprint) return { kind: 'mismatch' };
      if (row.state !== 'done') return { kind: 'in-flight' };
      return {
        kind: 'replay',
        answer: {
          status: row.status ?? 200,
          headers: row.headers === null ? [] : (JSON.parse(row.headers) as string[]),
          body: row.body ?? undefined,
        },
      };
    });
    return Promise.resolve(claim);
  }

  /** Extend a running claim's lease. */
  renew(key: string, owner: string, leaseMs: number): Promise<void> {
    if (!this.closed)
      this.open().execute(
        "UPDATE idempotency_keys SET lease_until = ? WHERE key = ? AND owner = ? AND state = 'running'",
        [Date.now() + leaseMs, key, owner],
      );
    return Promise.resolve();
  }

  /** Store a finished request's answer. */
  complete(key: string, owner: string, answer: StoredAnswer, ttlMs: number): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the idempotency store is closed'));
    this.open().execute(
      "UPDATE idempotency_keys SET state = 'done', status = ?, headers = ?, body = ?, expires_at = ? WHERE key = ? AND owner = ?",
      [answer.status, JSON.stringify(answer.headers), answer.body ?? null, Date.now() + ttlMs, key, owner],
    );
    return Promise.resolve();
  }

  /** Give up a running claim. */
  release(key: string, owner: string): Promise<void> {
    if (!this.closed)
      this.open().execute("DELETE FROM idempotency_keys WHERE key = ? AND owner = ? AND state = 'running'", [
        key,
        owner,
      ]);
    return Promise.resolve();
  }

  /** Close the file, if it was opened. Safe to call twice. */
  close(): void {
    this.closed = true;
    void this.db?.close();
    this.db = undefined;
  }
}
