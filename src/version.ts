import { loadNow } from './load.js';

/** Process-wide on purpose: the package's version, read once. */
let version: string | undefined;

/**
 * gatehouse's own version, from its package.json (read once, through the package's own `exports`, so it is found
 * from src/ and from any file of the built dist/). '0.0.0' when the file cannot be read.
 */
export function gatehouseVersion(): string {
  if (version === undefined) {
    try {
      const pkg = loadNow<{ version?: unknown }>('gatehouse/package.json');
      version = typeof pkg.version === 'string' ? pkg.version : '0.0.0';
    } catch {
      version = '0.0.0';
    }
  }
  return version;
}
