/** The engine's first step: open the project store the options ask for, loading only its kind's module. */
import type { Logger } from '../logger.js';
import { createRedisConnections, type RedisConnections } from '../redis.js';
import type { ResolvedControlPlaneOptions } from './options.js';
import type { ProjectStore } from './store.js';

/** The project store the options ask for, loaded on use (SQLite, or Redis with its connections). */
export interface OpenedStore {
  store: ProjectStore;
  redis: RedisConnections | undefined;
  /** Resolves false when the store did not answer within `timeoutMs`. */
  ready(timeoutMs: number): Promise<boolean>;
}

/** Open the SQLite store in `dataDir`, or the Redis store on new connections when `redis` is set. */
export async function openStore(o: ResolvedControlPlaneOptions, node: string, log: Logger): Promise<OpenedStore> {
  if (o.redis === undefined) {
    const { SqliteProjectStore } = await import('./store-sqlite.js');
    const store = new SqliteProjectStore({ dataDir: o.dataDir, watchIntervalMs: o.watchIntervalMs });
    return { store, redis: undefined, ready: async () => true };
  }
  const { RedisProjectStore } = await import('./store-redis.js');
  const redis = createRedisConnections(o.redis, { name: 'control', log });
  const store = new RedisProjectStore({
    redis,
    node,
    auditLimit: o.auditLimit,
    resyncIntervalMs: o.resyncIntervalMs,
    log,
  });
  return { store, redis, ready: (timeoutMs) => store.ready(timeoutMs) };
}
