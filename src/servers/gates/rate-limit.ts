import type * as RateLimiterFlexible from 'rate-limiter-flexible';
import type { RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import { loadNow } from '../../load.js';
import type { GateCall, GateStep } from '../pipeline/index.js';
import { GateConfigError, RateLimitError } from './errors.js';
import type { RateLimitStore } from './rate-limit-store.js';
import type { RateLimitRule } from './types.js';

interface Limiter {
  by: 'ip' | 'user' | 'endpoint';
  points: number;
  limiter: RateLimiterAbstract;
}

function keyOf(l: Limiter, call: GateCall): string {
  return l.by === 'endpoint' ? '*' : l.by === 'user' && call.identity ? `u:${call.identity.id}` : `ip:${call.ip}`;
}

function setHeaders(call: GateCall, points: number, res: RateLimiterRes): void {
  call.setHeader('ratelimit-limit', String(points));
  call.setHeader('ratelimit-remaining', String(Math.max(0, res.remainingPoints)));
  call.setHeader('ratelimit-reset', String(Math.ceil(res.msBeforeNext / 1000)));
}

/** The common case, one rule: one promise per call and no intermediate arrays. */
function singleStep(l: Limiter, Res: typeof RateLimiterRes): GateStep {
  return (call) =>
    l.limiter.consume(keyOf(l, call)).then(
      (res) => setHeaders(call, l.points, res),
      (res: unknown) => {
        if (!(res instanceof Res)) throw res; // a store failure: a 500, never silently allowed
        setHeaders(call, l.points, res);
        throw new RateLimitError(`Too many requests; retry in ${Math.max(1, Math.ceil(res.msBeforeNext / 1000))} s`, {
          retryAfterSec: Math.max(1, Math.ceil(res.msBeforeNext / 1000)),
        });
      },
    );
}

/** Compiles the rate-limit steps of routes; the counters live in the {@link RateLimitStore} it is given. */
export class RateLimitFactory {
  /** rate-limiter-flexible's result class, loaded with the first rule: a rejection carrying one is a limit hit. */
  private Res: typeof RateLimiterRes | undefined;

  constructor(private readonly store: RateLimitStore) {}

  /** Compile the rate-limit step of one route: all rules must allow the call. */
  step(rules: RateLimitRule | readonly RateLimitRule[] | undefined, route: string): GateStep | undefined {
    if (rules === undefined) return undefined;
    const list = Array.isArray(rules) ? (rules as readonly RateLimitRule[]) : [rules as RateLimitRule];
    if (list.length === 0) return undefined;
    const limiters = list.map((rule, i) => this.create(rule, `${route}#${i}`));
    const Res = (this.Res ??= loadNow<typeof RateLimiterFlexible>('rate-limiter-flexible').RateLimiterRes);
    if (limiters.length === 1) return singleStep(limiters[0]!, Res);
    return async (call) => {
      let tightest: RateLimiterRes | undefined;
      let tightestPoints = 0;
      let rejected: RateLimiterRes | undefined;
      const results = await Promise.all(
        limiters.map((l) => {
          return l.limiter.consume(keyOf(l, call)).then(
            (res) => ({ res, ok: true, points: l.points }),
            (res: unknown) => {
              if (res instanceof Res) return { res, ok: false, points: l.points };
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
      if (rejected)
        throw new RateLimitError(
          `Too many requests; retry in ${Math.max(1, Math.ceil(rejected.msBeforeNext / 1000))} s`,
          { retryAfterSec: Math.max(1, Math.ceil(rejected.msBeforeNext / 1000)) },
        );
    };
  }

  private create(rule: RateLimitRule, prefix: string): Limiter {
    const by = rule.by ?? 'ip';
    if (by !== 'ip' && by !== 'user' && by !== 'endpoint')
      throw new GateConfigError(`rateLimit.by must be ip, user or endpoint, got ${String(by)}`);
    if (!Number.isInteger(rule.points) || rule.points < 1)
      throw new GateConfigError('rateLimit.points must be a positive integer');
    if (!Number.isInteger(rule.windowSec) || rule.windowSec < 1)
      throw new GateConfigError('rateLimit.windowSec must be a positive integer');
    const blockSec = rule.blockSec ?? 0;
    if (!Number.isInteger(blockSec) || blockSec < 0)
      throw new GateConfigError('rateLimit.blockSec must be a non-negative integer');
    return {
      by,
      points: rule.points,
      limiter: this.store.limiter({
        points: rule.points,
        duration: rule.windowSec,
        blockDuration: blockSec,
        keyPrefix: prefix,
      }),
    };
  }
}
