import { readFileSync } from 'node:fs';

/** Process-wide on purpose: the package's version, read once. */
let version: string | undefined;

/**
 * gatehouse's own version, from its package.json (read once). `src/version.ts` and `dist/version.js` both sit
 * one level below the package root. '0.0.0' when the file cannot be read.
 */
export function gatehouseVersion(): string {
  if (version === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
        version?: unknown;
      };
      version = typeof pkg.version === 'string' ? pkg.version : '0.0.0';
    } catch {
      version = '0.0.0';
    }
  }
  return version;
}
