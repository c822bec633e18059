import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GateConfigError, type PortalOptions } from '../../src/index.js';
import { createLogger } from '../../src/logger.js';
import { MemoryRateLimitStore, SqliteRateLimitStore, SqliteRevocationStore } from '../../src/servers/gates/index.js';
import { resolvePortalOptions } from '../../src/servers/portal/options.js';
import { closeStores, createStores, type PortalStores } from '../../src/servers/portal/stores.js';
import { tempDir } from '../helpers.js';

const log = createLogger({ level: 'silent' });

describe('portal stores', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  function build(options: PortalOptions): { stores: PortalStores; dir: string } {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const stores = createStores(resolvePortalOptions({ dataDir: dir, logger: log, ...options }), log);
    cleanups.push(async () => {
      await closeStores(stores, log);
      await stores.lifecycleSource.close?.();
    });
    return { stores, dir };
  }

  it('chooses the memory rate-limit store by default and SQLite when asked, opening its file on first use', () => {
    expect(build({}).stores.rateLimits).toBeInstanceOf(MemoryRateLimitStore);
    const { stores, dir } = build({ rateLimitStore: 'sqlite' });
    expect(stores.rateLimits).toBeInstanceOf(SqliteRateLimitStore);
    expect(existsSync(join(dir, 'gatehouse-ratelimit.db'))).toBe(false);
    stores.rateLimits.limiter({ points: 1, duration: 1, blockDuration: 0, keyPrefix: 't' });
    expect(existsSync(join(dir, 'gatehouse-ratelimit.db'))).toBe(true);
  });

  it('keeps revocations in SQLite and tells listeners, and picks the lifecycle source from its option', async () => {
    const { stores } = build({ lifecycle: { source: 'sqlite' } });
    expect(stores.revocations).toBeInstanceOf(SqliteRevocationStore);
    const told: string[] = [];
    stores.revocations.onRevoke((key) => told.push(key));
    await stores.revocations.add('jti-1', Date.now() + 60_000);
    expect(stores.revocations.has('jti-1')).toBe(true);
    expect(stores.revocations.has('jti-2')).toBe(false);
    expect(told).toEqual(['jti-1']);
    expect(stores.lifecycleSource.name).toBe('sqlite');
    expect(build({}).stores.lifecycleSource.name).toBe('memory');
  });

  it('refuses an unknown rate-limit store, naming the option, and leaves no store open', () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    expect(() =>
      createStores(resolvePortalOptions({ dataDir: dir, logger: log, rateLimitStore: 'redis' as never }), log),
    ).toThrow(GateConfigError);
    expect(() =>
      createStores(resolvePortalOptions({ dataDir: dir, logger: log, rateLimitStore: 'redis' as never }), log),
    ).toThrow(/rateLimitStore/);
    // The revocation store is built after the rate-limit store: its file was never created.
    expect(existsSync(join(dir, 'gatehouse-security.db'))).toBe(false);
  });

  it('closes every store, safely twice', async () => {
    const { stores } = build({ rateLimitStore: 'sqlite' });
    stores.rateLimits.limiter({ points: 1, duration: 1, blockDuration: 0, keyPrefix: 't' });
    await closeStores(stores, log);
    await closeStores(stores, log);
    // A closed revocation store ignores writes instead of throwing on a closed file.
    await stores.revocations.add('late', Date.now() + 1000);
    expect(stores.revocations.has('late')).toBe(false);
  });
});
