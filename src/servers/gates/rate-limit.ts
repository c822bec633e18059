import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Database } from '../../database/index.js';
import { RateLimiterMemory, RateLimiterRes, RateLimiterSQLite, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { GateCall, GateStep } from '../pipeline/index.js';
import { GateConfigError, RateLimitError } from './errors.js';
import type { RateLimitRule } from './types.js';

/** Where rate-limit counters live: this process, or a SQLite file in `dataDir` shared by processes on the host. */
export type RateLimitStore = 'memory' | 'sqlite';

interface Limiter {
  by: 'ip' | 'user' | 'endpoint';
  points: number;
  limiter: RateLimiterAbstract;
}

function keyOf(l: Limiter, call: GateCall): string {
  return l.by === 'endpoint' ? '*' : l.by === 'user' && call.identity ? `u:${call.identity.id}` : `ip:${call.ip}`;
}

function setHeaders(call: GateCall, points: number, res: RateLimiterRes): void {
  call.setHeader('RateLimit-Limit', String(points));
  call.setHeader('RateLimit-Remaining', String(Math.max(0, res.remainingPoints)));
  call.setHeader('RateLimit-Reset', String(Math.ceil(res.msBeforeNext / 1000)));
}

/** The common case, one rule: one promise per call and no intermediate arrays. */
function singleStep(l: Limiter): GateStep {
  return (call) =>
    l.limiter.consume(keyOf(l, call)).then(
      (res) => setHeaders(call, l.points, res),
      (res: unknown) => {
        if (!(res instanceof RateLimiterRes)) throw res; // a store failure: a 500, never silently allowed
        setHeaders(call, l.points, res);
        throw new RateLimitError(`Too many requests; retry in ${Math.max(1, Math.ceil(res.msBeforeNext / 1000))} s`, { retryAfterSec: Math.max(1, Math.ceil(res.msBeforeNext / 1000)) });
      },
    );
}

/** Creates rate limiters on one store; owns the SQLite handle when the store is shared. */
export class RateLimitFactory {
  private db: Database | undefined;
  private count = 0;

  constructor(
    private readonly store: RateLimitStore,
    private readonly dataDir: string,
  ) {
    if (store !== 'memory' && store !== 'sqlite') throw new GateConfigError(`rateLimitStore must be 'memory' or 'sqlite', got ${String(store)}`);
  }

  /** Compile the rate-limit step of one route: all rules must allow the call. */
  step(rules: RateLimitRule | readonly RateLimitRule[] | undefined, route: string): GateStep | undefined {
    if (rules === undefined) return undefined;
    const list = Array.isArray(rules) ? (rules as readonly RateLimitRule[]) : [rules as RateLimitRule];
    if (list.length === 0) return undefined;
    const limiters = list.map((rule, i) => this.create(rule, `${route}#${i}`));
    if (limiters.length === 1) return singleStep(limiters[0]!);
    return async (call) => {
      let tightest: RateLimiterRes | undefined;
      let tightestPoints = 0;
      let rejected: RateLimiterRes | undefined;
      const results = await Promise.all(
        limiters.map((l) => {
          return l.limiter.consume(keyOf(l, call)).then(
            (res) => ({ res, ok: true, points: l.points }),
            (res: unknown) => {
              if (res instanceof RateLimiterRes) return { res, ok: false, points: l.points };
              throw res; // a store failure: surfaced as a 500, never silently allowed
            },
          );
        }),
      );
      for (const r of results) {
        if (!r.ok && (!rejected || r.res.msBeforeNext > rejected.msBeforeNext)) rejected = r.res;
        if (!tightest || r.res.remainingPoints < tightest.remainingPoints) {
          tightest = r.res;
          tightestPoints = r.points;
        }
      }
      if (tightest) setHeaders(call, tightestPoints, tightest);
      if (rejected) throw new RateLimitError(`Too many requests; retry in ${Math.max(1, Math.ceil(rejected.msBeforeNext / 1000))} s`, { retryAfterSec: Math.max(1, Math.ceil(rejected.msBeforeNext / 1000)) });
    };
  }

  private create(rule: RateLimitRule, prefix: string): Limiter {
    const by = rule.by ?? 'ip';
    if (by !== 'ip' && by !== 'user' && by !== 'endpoint') throw new GateConfigError(`rateLimit.by must be ip, user or endpoint, got ${String(by)}`);
    if (!Number.isInteger(rule.points) || rule.points < 1) throw new GateConfigError('rateLimit.points must be a positive integer');
    if (!Number.isInteger(rule.windowSec) || rule.windowSec < 1) throw new GateConfigError('rateLimit.windowSec must be a positive integer');
    const blockSec = rule.blockSec ?? 0;
    if (!Number.isInteger(blockSec) || blockSec < 0) throw new GateConfigError('rateLimit.blockSec must be a non-negative integer');
    const opts = { points: rule.points, duration: rule.windowSec, blockDuration: blockSec, keyPrefix: prefix };
    if (this.store === 'memory') return { by, points: rule.points, limiter: new RateLimiterMemory(opts) };
    if (!this.db) {
      mkdirSync(this.dataDir, { recursive: true });
      // Database sets busy_timeout before switching to WAL, so processes starting together don't trip on a lock.
      this.db = new Database({ path: join(this.dataDir, 'gatehouse-ratelimit.db') });
    }
    this.count++;
    const limiter = new RateLimiterSQLite({ ...opts, storeClient: this.db.raw(), storeType: 'better-sqlite3', tableName: 'rate_limits', clearExpiredByTimeout: this.count === 1 });
    return { by, points: rule.points, limiter };
  }

  /** Close the shared SQLite handle, if any. Safe to call twice. */
  close(): void {
    void this.db?.close();
    this.db = undefined;
  }
}
