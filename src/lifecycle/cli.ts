import { parseCliArgs, type CliIO, type CliOption } from '../cli-args.js';
import { SqliteSource, type LifecycleSource } from './sources.js';
import { LIFECYCLE_STATES, validateRecord, type LifecycleState } from './states.js';

/** Where the lifecycle command writes: the CLI's own `CliIO`. */
export type LifecycleCliIO = CliIO;

const USAGE = `Usage:
  gatehouse lifecycle status [--data-dir DIR | --redis URL --name NAME] [--json]
  gatehouse lifecycle set STATE [--message TEXT] [--retry-after SECONDS] [--data-dir DIR | --redis URL --name NAME]

STATE is one of ${LIFECYCLE_STATES.join(', ')}. Writes the SQLite store (gatehouse-lifecycle.db) that every portal
using lifecycle source 'sqlite' with the same dataDir follows within a second. --data-dir defaults to ./data.
With --redis, writes the fleet's key instead (gatehouse:NAME:lifecycle): every portal with that name and Redis
gates within a second. --name defaults to 'gatehouse' (the portal's default name).`;

const OPTIONS = {
  'data-dir': { type: 'string' },
  redis: { type: 'string' },
  name: { type: 'string' },
  message: { type: 'string' },
  'retry-after': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Record<string, CliOption>;

/**
 * `gatehouse lifecycle status|set`: read or change the shared lifecycle state in `<data-dir>/gatehouse-lifecycle.db`.
 * Resolves to the exit status: 0 done, 1 store failure, 2 usage error (nothing written).
 */
export async function runLifecycleCommand(argv: readonly string[], io: LifecycleCliIO): Promise<number> {
  const parsed = parseCliArgs(argv, OPTIONS);
  if (typeof parsed === 'string') return usageError(io, parsed);
  const flags = parsed.values;
  if (flags.help) {
    io.out(USAGE);
    return 0;
  }
  const [action, stateArg, ...extra] = parsed.positionals;
  const dataDir = flags['data-dir'] || './data';
  const name = flags.name || 'gatehouse';
  const redisUrl = flags.redis;
  if (redisUrl !== undefined) {
    if (flags['data-dir'] !== undefined) return usageError(io, 'give --data-dir or --redis, not both');
    try {
      // Loaded only with --redis: ioredis adds to every CLI start otherwise.
      (await import('../redis.js')).resolveRedisOption(redisUrl, name);
    } catch (err) {
      return usageError(io, `--${(err as Error).message}`);
    }
  } else if (flags.name !== undefined) return usageError(io, '--name goes with --redis');
  const where = redisUrl !== undefined ? `Redis fleet ${name}` : dataDir;
  const withStore = (fn: (store: LifecycleSource) => Promise<number> | number): Promise<number> => (redisUrl !== undefined ? withRedis(io, redisUrl, name, fn) : withSqlite(io, dataDir, fn));

  if (action === 'status') {
    if (stateArg !== undefined) return usageError(io, `unexpected argument ${stateArg}`);
    return withStore(async (store) => {
      const record = await store.read();
      const shown = { state: record?.state ?? 'ACTIVE', message: record?.message ?? null, retryAfterSec: record?.retryAfterSec ?? null, updatedAt: record?.updatedAt ? new Date(record.updatedAt).toISOString() : null, updatedBy: record?.updatedBy ?? null };
      if (flags.json) io.out(JSON.stringify(shown));
      else io.out(`${shown.state}${shown.message ? ` (${shown.message})` : ''}${shown.updatedAt ? `, set ${shown.updatedAt}${shown.updatedBy ? ` by ${shown.updatedBy}` : ''}` : ''}`);
      return 0;
    });
  }
  if (action === 'set') {
    if (stateArg === undefined) return usageError(io, 'set needs a STATE');
    if (extra.length > 0) return usageError(io, `unexpected argument ${extra[0]!}`);
    const state = stateArg.toUpperCase();
    const message = flags.message;
    const retryFlag = flags['retry-after'];
    let retryAfterSec: number | undefined;
    if (typeof retryFlag === 'string') {
      if (!/^\d+$/.test(retryFlag)) return usageError(io, `--retry-after must be a whole number of seconds (0 or more), got ${retryFlag}`);
      retryAfterSec = Number(retryFlag);
    }
    const problem = validateRecord(state, message, retryAfterSec);
    if (problem) return usageError(io, problem);
    return withStore(async (store) => {
      await store.write({ state: state as LifecycleState, message: message || undefined, retryAfterSec, updatedAt: Date.now(), updatedBy: `cli pid ${process.pid}` });
      io.out(`lifecycle set to ${state} in ${where}`);
      return 0;
    });
  }
  return usageError(io, action === undefined ? 'missing action (status or set)' : `unknown action ${action}`);
}

function usageError(io: LifecycleCliIO, message: string): number {
  io.err(`gatehouse lifecycle: ${message}\n\n${USAGE}`);
  return 2;
}

function storeFailure(io: LifecycleCliIO, err: unknown): number {
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
  io.err(`gatehouse lifecycle: ${err instanceof Error ? err.message : String(err)}${cause}`);
  return 1;
}

async function withSqlite(io: LifecycleCliIO, dataDir: string, fn: (store: LifecycleSource) => Promise<number> | number): Promise<number> {
  let store: SqliteSource | undefined;
  try {
    store = new SqliteSource(dataDir);
    return await fn(store);
  } catch (err) {
    return storeFailure(io, err);
  } finally {
    store?.close();
  }
}

async function withRedis(io: LifecycleCliIO, url: string, name: string, fn: (store: LifecycleSource) => Promise<number> | number): Promise<number> {
  const [{ createRedisConnections }, { createLogger }, { RedisLifecycleSource }] = await Promise.all([import('../redis.js'), import('../logger.js'), import('./source-redis.js')]);
  const redis = createRedisConnections(url, { name, log: createLogger({ level: 'silent' }) });
  try {
    return await fn(new RedisLifecycleSource({ redis, startupWaitMs: 3000 }));
  } catch (err) {
    return storeFailure(io, err);
  } finally {
    await redis.close();
  }
}
