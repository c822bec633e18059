import type { Logger } from '../../logger.js';
import type { Identity } from '../pipeline/index.js';
import { GateConfigError } from './errors.js';
import { nodeCrypto } from '../../load.js';

/** One API key: the secret value and the scopes it grants. */
export interface ApiKeyEntry {
  /** The key itself (at least 16 characters). An undefined key (unset env var) is skipped with a warning. */
  key: string | undefined;
  /** Scopes granted. @defaultValue [] */
  scopes?: readonly string[];
}

interface HashedKey {
  name: string;
  hash: Buffer;
  scopes: string[];
}

function digest(value: string): Buffer {
  return nodeCrypto().createHash('sha256').update(value).digest();
}

/**
 * Configured API keys, kept only as SHA-256 hashes. A presented key is hashed and compared against every stored
 * hash with `timingSafeEqual`, so neither length nor content leaks through timing, and keys never reach logs.
 */
export class ApiKeyRegistry {
  private readonly keys: HashedKey[] = [];

  constructor(entries: Readonly<Record<string, ApiKeyEntry>>, log: Logger) {
    for (const [name, entry] of Object.entries(entries)) {
      if (entry.key === undefined || entry.key === '') {
        log.warn({ apiKey: name }, 'API key has no value configured; it is disabled');
        continue;
      }
      if (typeof entry.key !== 'string' || entry.key.length < 16)
        throw new GateConfigError(`auth.apiKeys.${name}: key must be a string of at least 16 characters`);
      this.keys.push({ name, hash: digest(entry.key), scopes: [...(entry.scopes ?? [])] });
    }
  }

  /** Whether any key is configured. */
  get size(): number {
    return this.keys.length;
  }

  /** The identity of a presented key, or null. Always compares against every key. */
  match(presented: string): Identity | null {
    const hash = digest(presented);
    let found: HashedKey | null = null;
    for (const k of this.keys) {
      if (nodeCrypto().timingSafeEqual(hash, k.hash) && found === null) found = k;
    }
    return found ? { id: found.name, scopes: found.scopes, via: 'apiKey' } : null;
  }
}
