import { statSync } from 'node:fs';
import { join } from 'node:path';
import { parseCommand, type CliIO, type CliOption } from '../cli-args.js';
import { FOLLOWER_LIVE_MS, describeFollower, isLiveFollower, type Follower } from './followers.js';
import { FileSource } from './source-file.js';
import { LIFECYCLE_DB_FILE, SqliteSource } from './source-sqlite.js';
import type { LifecycleSource } from './sources.js';
import { LIFECYCLE_STATES, validateRecord, type LifecycleState } from './states.js';

/** Where the lifecycle command writes: the CLI's own `CliIO`. */
export type LifecycleCliIO = CliIO;

const USAGE = `Usage:
  gatehouse lifecycle status [--data-dir DIR | --file PATH | --redis URL --name NAME] [--json]
  gatehouse lifecycle set STATE [--message TEXT] [--retry-after SECONDS] [--data-dir DIR | --file PATH | --redis URL --name NAME]
                                [--create] [--require-followers]

STATE is one of ${LIFECYCLE_STATES.join(', ')}. Writes the SQLite store (DIR/${LIFECYCLE_DB_FILE}) that every portal
using lifecycle source 'sqlite' with the same dataDir follows within a second. --data-dir defaults to ./data.
--file writes the JSON file of lifecycle source 'file' instead. Portals following a store keep a heartbeat in it:
status lists them, set says how many running portals the change reaches and warns when none does.
A store that does not exist (a mistyped folder or file) is an error (exit 2); set --create makes a new one.
With --redis, writes the fleet's key instead (gatehouse:NAME:lifecycle): every portal with that name and Redis
gates within a second. --name defaults to 'gatehouse' (the portal's default name).

Exit status: 0 done; 1 the store failed, or set --require-followers found no running portal (the state is
written all the same); 2 usage error or no such store (nothing written).`;

const OPTIONS = {
  'data-dir': { type: 'string' },
  file: { type: 'string' },
  create: { type: 'boolean' },
  'require-followers': { type: 'boolean' },
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
  const parsed = parseCommand(argv, OPTIONS, io, USAGE, (message) => usageError(io, message));
  if (typeof parsed === 'number') return parsed;
  const flags = parsed.values;
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
    if (flags.file !== undefined) return usageError(io, 'give --file or --redis, not both');
  } else if (flags.name !== undefined) return usageError(io, '--name goes with --redis');
  if (flags.file !== undefined && flags['data-dir'] !== undefined)
    return usageError(io, 'give --data-dir or --file, not both');
  if (flags.file === '') return usageError(io, '--file needs a path');
  if (action !== 'set' && flags.create) return usageError(io, '--create goes with set');
  if (action !== 'set' && flags['require-followers']) return usageError(io, '--require-followers goes with set');
  const file = flags.file;
  const where = redisUrl !== undefined ? `Redis fleet ${name}` : (file ?? dataDir);
  const withStore = (fn: (store: LifecycleSource) => Promise<number> | number): Promise<number> => {
    if (redisUrl !== undefined) return withRedis(io, redisUrl, name, fn);
    const missing = flags.create ? undefined : file !== undefined ? missingFile(file) : missingStore(dataDir);
    if (missing) {
      io.err(`gatehouse lifecycle: ${missing}`);
      return Promise.resolve(2);
    }
    return file !== undefined ? withFile(io, file, fn) : withSqlite(io, dataDir, fn);
  };

  if (action === 'status') {
    if (stateArg !== undefined) return usageError(io, `unexpected argument ${stateArg}`);
    return withStore(async (store) => {
      const record = await store.read();
      const shown = {
        state: record?.state ?? 'ACTIVE',
        message: record?.message ?? null,
        retryAfterSec: record?.retryAfterSec ?? null,
        updatedAt: record?.updatedAt ? new Date(record.updatedAt).toISOString() : null,
        updatedBy: record?.updatedBy ?? null,
      };
      const followers = await liveFollowers(store);
      if (flags.json) {
        const listed = followers?.map((f) => ({
          name: f.name,
          pid: f.pid,
          host: f.host,
          startedAt: new Date(f.startedAt).toISOString(),
          lastSeen: new Date(f.lastSeen).toISOString(),
        }));
        io.out(JSON.stringify(listed ? { ...shown, followers: listed } : shown));
        return 0;
      }
      io.out(
        `${shown.state}${shown.message ? ` (${shown.message})` : ''}${shown.updatedAt ? `, set ${shown.updatedAt}${shown.updatedBy ? ` by ${shown.updatedBy}` : ''}` : ''}`,
      );
      if (followers)
        io.out(
          followers.length === 0
            ? `followers: none running (no heartbeat in the last ${FOLLOWER_LIVE_MS / 1000} s)`
            : `followers: ${countPortals(followers.length)}: ${listFollowers(followers)}`,
        );
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
      if (!/^\d+$/.test(retryFlag))
        return usageError(io, `--retry-after must be a whole number of seconds (0 or more), got ${retryFlag}`);
      retryAfterSec = Number(retryFlag);
    }
    const problem = validateRecord(state, message, retryAfterSec);
    if (problem) return usageError(io, problem);
    return withStore(async (store) => {
      await store.write({
        state: state as LifecycleState,
        message: message || undefined,
        retryAfterSec,
        updatedAt: Date.now(),
        updatedBy: `cli pid ${process.pid}`,
      });
      const followers = await liveFollowers(store);
      if (!followers) {
        io.out(`lifecycle set to ${state} in ${where}`);
        return 0;
      }
      if (followers.length > 0) {
        io.out(
          `lifecycle set to ${state} in ${where}: ${countPortals(followers.length)} ${followers.length === 1 ? 'follows' : 'follow'} this store (${listFollowers(followers)})`,
        );
        return 0;
      }
      io.out(`lifecycle set to ${state} in ${where}`);
      const how =
        redisUrl !== undefined
          ? `name ${name} and this Redis (lifecycle source 'redis', the default with the redis option)`
          : file !== undefined
            ? `lifecycle source 'file' and file ${file}`
            : `lifecycle source 'sqlite' and dataDir ${dataDir}`;
      io.err(
        `gatehouse lifecycle: warning: no running portal follows this store (no heartbeat in the last ${FOLLOWER_LIVE_MS / 1000} s), so nothing is gated now. ` +
          `Portals follow it with ${how}, and pick the state up when they start.`,
      );
      return flags['require-followers'] ? 1 : 0;
    });
  }
  return usageError(io, action === undefined ? 'missing action (status or set)' : `unknown action ${action}`);
}

/** Running followers of a shared store, or undefined for a store without heartbeats (Redis). */
async function liveFollowers(store: LifecycleSource): Promise<Follower[] | undefined> {
  if (typeof store.followers !== 'function') return undefined;
  const all = await store.followers();
  const now = Date.now();
  return all.filter((f) => isLiveFollower(f, now));
}

function countPortals(n: number): string {
  return n === 1 ? '1 running portal' : `${n} running portals`;
}

function listFollowers(followers: readonly Follower[]): string {
  const shown = followers.slice(0, 5).map(describeFollower);
  if (followers.length > 5) shown.push(`${followers.length - 5} more`);
  return shown.join(', ');
}

function kindOf(path: string): 'dir' | 'file' | 'missing' {
  try {
    return statSync(path).isDirectory() ? 'dir' : 'file';
  } catch {
    return 'missing';
  }
}

/** Why there is no SQLite store in `dataDir` (never creating one), or undefined when there is. */
function missingStore(dataDir: string): string | undefined {
  const kind = kindOf(dataDir);
  if (kind === 'missing')
    return `no lifecycle store at ${dataDir}: the folder does not exist (check --data-dir; set --create makes a new store)`;
  if (kind === 'file') return `no lifecycle store at ${dataDir}: it is a file, not a folder (check --data-dir)`;
  if (kindOf(join(dataDir, LIFECYCLE_DB_FILE)) !== 'file') {
    return `no lifecycle store in ${dataDir}: ${LIFECYCLE_DB_FILE} does not exist, so no portal with lifecycle source 'sqlite' has used this folder (check --data-dir; set --create makes a new store)`;
  }
  return undefined;
}

/** Why there is no lifecycle file at `file` (no file and no followers' heartbeats beside it), or undefined. */
function missingFile(file: string): string | undefined {
  const kind = kindOf(file);
  if (kind === 'dir') return `no lifecycle file at ${file}: it is a folder (check --file)`;
  if (kind === 'file' || kindOf(new FileSource(file).followersDir) === 'dir') return undefined;
  return `no lifecycle file at ${file}, and no portal follows one there (check --file; set --create writes a new one)`;
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

async function withSqlite(
  io: LifecycleCliIO,
  dataDir: string,
  fn: (store: LifecycleSource) => Promise<number> | number,
): Promise<number> {
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

async function withFile(
  io: LifecycleCliIO,
  file: string,
  fn: (store: LifecycleSource) => Promise<number> | number,
): Promise<number> {
  try {
    return await fn(new FileSource(file));
  } catch (err) {
    return storeFailure(io, err);
  }
}

async function withRedis(
  io: LifecycleCliIO,
  url: string,
  name: string,
  fn: (store: LifecycleSource) => Promise<number> | number,
): Promise<number> {
  const [{ createRedisConnections }, { createLogger }, { RedisLifecycleSource }] = await Promise.all([
    import('../redis.js'),
    import('../logger.js'),
    import('./source-redis.js'),
  ]);
  const redis = createRedisConnections(url, { name, log: createLogger({ level: 'silent' }) });
  try {
    return await fn(new RedisLifecycleSource({ redis, startupWaitMs: 3000 }));
  } catch (err) {
    return storeFailure(io, err);
  } finally {
    await redis.close();
  }
}
