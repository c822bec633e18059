/**
 * Which TypeScript `gatehouse check` runs on, and the one interface it sees of it. The project's own `typescript`
 * is preferred (resolved from the checked directory), else the copy next to gatehouse. TypeScript 5 and 6 offer
 * the classic compiler API (`compiler-classic.ts`); TypeScript 7, the native compiler, offers its API through
 * `typescript/unstable/sync` and `typescript/unstable/ast` (`compiler-native.ts`). Any other major is refused
 * with one line naming the installed version and `SUPPORTED_TYPESCRIPT`.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkSetupError, type Compiler, type FoundTypeScript } from './compiler-api.js';
import { classicCompiler } from './compiler-classic.js';
import { nativeCompiler } from './compiler-native.js';
import { SUPPORTED_TYPESCRIPT } from './check-types.js';
import { EnforcementError } from './errors.js';

/** Find the package `name` from `dir`, else from gatehouse's own folder. */
function locate(dir: string, name: string): FoundTypeScript | undefined {
  for (const base of [path.join(dir, 'noop.js'), fileURLToPath(import.meta.url)]) {
    const req = createRequire(base);
    let manifest: string;
    try {
      manifest = req.resolve(`${name}/package.json`);
    } catch {
      continue;
    }
    const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version?: unknown };
    return {
      version: String(version),
      dir: path.dirname(manifest),
      resolve: (subpath) => req.resolve(`${name}${subpath}`),
    };
  }
  return undefined;
}

/**
 * Load the TypeScript compiler for the project in `dir`.
 * @param dir - the checked directory (its `node_modules` is searched first)
 * @param name - the package name to load, e.g. an npm alias such as `typescript7` @defaultValue `'typescript'`
 */
export async function loadCompiler(dir: string, name = 'typescript'): Promise<Compiler> {
  const found = locate(dir, name);
  if (found === undefined) {
    throw checkSetupError(
      name === 'typescript'
        ? "the 'typescript' package is not installed; gatehouse check needs it (npm install --save-dev typescript)"
        : `the package '${name}' (GATEHOUSE_TYPESCRIPT) is not installed`,
    );
  }
  const major = Number.parseInt(found.version, 10);
  const where = path.relative(process.cwd(), found.dir) || '.';
  if (major !== 5 && major !== 6 && major !== 7) {
    throw checkSetupError(
      `TypeScript ${found.version} (${where}) is not supported; gatehouse check works with ${SUPPORTED_TYPESCRIPT}`,
    );
  }
  try {
    return major === 7 ? await nativeCompiler(found, dir) : await classicCompiler(found);
  } catch (cause) {
    if (cause instanceof EnforcementError) throw cause;
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw checkSetupError(`cannot load TypeScript ${found.version} (${where}): ${reason}`, cause);
  }
}
