import { join } from 'node:path';
import { lifecycleChecks } from './errors.js';
import { resolveLifecycleOptions, type LifecycleOptions } from './options.js';
import { RemoteControl } from './remote/remote-control.js';
import { RemoteLifecycleSource } from './remote/source.js';
import { FileSource } from './source-file.js';
import { SqliteSource } from './source-sqlite.js';
import { EnvSource, MemorySource, type LifecycleSource } from './sources.js';

const check = lifecycleChecks('Lifecycle');
const SOURCE_NAMES = "memory, env, file, sqlite, redis (with the portal's redis option), remote or a LifecycleSource";

/**
 * The state source for lifecycle options: the one place a source name (`memory`, `env`, `file`, `sqlite`, `remote`)
 * becomes a {@link LifecycleSource}; a source object is checked and returned as-is. The portal calls it from its
 * store chooser and hands the result to the `Lifecycle`.
 */
export function createLifecycleSource(options: LifecycleOptions = {}): LifecycleSource {
  const source = options.source ?? 'memory';
  if (typeof source === 'object' && source !== null) {
    if (typeof source.read !== 'function' || typeof source.write !== 'function')
      check.fail('source', 'an object with read() and write()', source);
    return source;
  }
  const o = resolveLifecycleOptions(options);
  switch (source) {
    case 'memory':
      return new MemorySource(o.initialState === 'ACTIVE' ? null : { state: o.initialState });
    case 'env':
      return new EnvSource(options.env ?? process.env);
    case 'file':
      return new FileSource(options.file ?? join(o.dataDir, 'lifecycle.json'), o.pollIntervalMs);
    case 'sqlite':
      return new SqliteSource(o.dataDir, o.pollIntervalMs);
    case 'remote': {
      const remote = options.remote ?? {};
      if (remote instanceof RemoteControl) return new RemoteLifecycleSource(remote);
      return new RemoteLifecycleSource({
        dataDir: o.dataDir,
        ...(options.logger ? { logger: options.logger } : {}),
        ...remote,
      });
    }
    default:
      return check.fail('source', SOURCE_NAMES, source);
  }
}
