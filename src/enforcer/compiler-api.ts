/**
 * The one interface `gatehouse check` sees of a TypeScript compiler, whichever major provides it.
 */
import type TS from 'typescript';
import { SYNTAX_FUNCTIONS, type Syntax } from './check-exports.js';
import { EnforcementError } from './errors.js';

const SYNTAX_NAMES = [...SYNTAX_FUNCTIONS, 'SyntaxKind'] as const;

/** A TypeScript compiler as `gatehouse check` uses it. */
export interface Compiler {
  /** The TypeScript version, e.g. `'7.0.2'`. */
  readonly version: string;
  /** The functions that walk what {@link Compiler.parse} returns. */
  readonly syntax: Syntax;
  /** The files a tsconfig.json selects, as absolute paths. Throws `ERR_ENFORCE_CONFIG` when it cannot be read. */
  configFiles(configPath: string): string[];
  /** Parse `files` (absolute paths) and hand each parsed file to `each`, in order. */
  parse(files: readonly string[], each: (file: string, source: TS.SourceFile) => void): void;
  /** Release what the compiler holds (TypeScript 7 runs in a child process). Safe to call twice. */
  close(): void;
}

/** Where a TypeScript package was found. */
export interface FoundTypeScript {
  /** Its version, from its package.json. */
  version: string;
  /** Its folder. */
  dir: string;
  /** The file of one of the package's entry points: `''` for the main one, `'/unstable/sync'`, ... */
  resolve(subpath: string): string;
}

/** A setup error of `gatehouse check`: printed as one line, exit status 2. */
export function checkSetupError(message: string, cause?: unknown): EnforcementError {
  return new EnforcementError(message, { code: 'ERR_ENFORCE_CONFIG', functionName: 'check', cause });
}

/**
 * The syntax functions a compiler module offers, refused in one line when one is missing (the API moved).
 * @param mod - the compiler's module (or modules merged)
 * @param version - its version, for the message
 * @param docs - how this compiler finds the JSDoc blocks of a node
 */
export function syntaxOf(mod: Record<string, unknown>, version: string, docs: Syntax['docs']): Syntax {
  const missing = SYNTAX_NAMES.filter((n) => typeof mod[n] !== (n === 'SyntaxKind' ? 'object' : 'function'));
  if (missing.length > 0)
    throw checkSetupError(`TypeScript ${version} lacks ${missing.join(', ')}, which gatehouse check needs`);
  const out: Record<string, unknown> = { docs };
  for (const n of SYNTAX_NAMES) out[n] = mod[n];
  return out as unknown as Syntax;
}
