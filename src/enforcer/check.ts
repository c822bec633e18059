/**
 * `gatehouse check`'s engine: pick the files, parse them with the project's TypeScript (5, 6 or 7, see
 * `compiler.ts`), and walk their exports (`check-exports.ts`). TypeScript is loaded only when a check runs.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { checkSource } from './check-exports.js';
import type { CheckProblem, CheckRule } from './check-types.js';
import { checkSetupError } from './compiler-api.js';
import type { Compiler } from './compiler-api.js';
import { loadCompiler } from './compiler.js';

export type { CheckProblem, CheckRule };

/** Options of `checkProject()`. */
export interface CheckOptions {
  /** Directory that reported paths are relative to. @defaultValue `process.cwd()` */
  cwd?: string;
  /**
   * The TypeScript package to check with, by name: resolved from the checked directory, then from gatehouse.
   * An npm alias works (`typescript7` for `"typescript7": "npm:typescript@^7"`). The CLI takes it from the
   * `GATEHOUSE_TYPESCRIPT` environment variable.
   * @defaultValue `'typescript'`
   */
  typescript?: string;
}

/** Result of `checkProject()`. */
export interface CheckResult {
  /** Findings sorted by file, line, column and rule. */
  problems: CheckProblem[];
  /** How many source files were read. */
  filesChecked: number;
  /** The TypeScript version that parsed them. */
  typescriptVersion: string;
}

const SOURCE_EXT = /\.(ts|tsx|mts|cts)$/;
const DECLARATION_EXT = /\.d\.(ts|mts|cts)$|\.d\.[^/\\]+\.ts$/;
const SKIP_DIRS = new Set(['node_modules', 'dist']);

function isSourceFile(file: string): boolean {
  return SOURCE_EXT.test(file) && !DECLARATION_EXT.test(file);
}

function inSkippedDir(file: string, root: string): boolean {
  return path
    .relative(root, file)
    .split(/[\\/]/)
    .slice(0, -1)
    .some((part) => SKIP_DIRS.has(part));
}

function walk(dir: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name) && !entry.name.startsWith('.')) walk(full, out);
    } else if (entry.isFile() && isSourceFile(entry.name)) out.push(full);
  }
}

/** The files to check: those of `dir/tsconfig.json` when present, else every .ts/.tsx under `dir`. */
function listFiles(compiler: Compiler, dir: string): string[] {
  if (statSync(dir).isFile()) return [dir];
  const configPath = path.join(dir, 'tsconfig.json');
  if (existsSync(configPath)) {
    return compiler.configFiles(configPath).filter((f) => isSourceFile(f) && !inSkippedDir(f, dir));
  }
  const files: string[] = [];
  walk(dir, files);
  return files;
}

const byPosition = (a: CheckProblem, b: CheckProblem): number =>
  (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
  a.line - b.line ||
  a.column - b.column ||
  (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0);

/**
 * Statically check a project's exported API with the TypeScript compiler: exported functions, exported
 * arrow-function/function-expression consts, exported classes and their public methods must have a JSDoc
 * summary, explicit parameter and return types, and at most 8 parameters. Constructors are checked for
 * parameter types and count only (the class JSDoc documents them). Consts with a type annotation
 * (`export const h: Handler = (req) => ...`) take their parameter and return types from it.
 * Files come from `dir/tsconfig.json` when present, else every `.ts`/`.tsx` under `dir`
 * (skipping `node_modules`, `dist` and declaration files). `dir` may also be a single file.
 * Works with TypeScript 5, 6 and 7; another version is refused with `ERR_ENFORCE_CONFIG` naming it.
 *
 * @example
 * ```ts
 * const { problems } = await checkProject('src');
 * for (const p of problems) console.log(formatProblem(p));
 * ```
 */
export async function checkProject(dir: string, options: CheckOptions = {}): Promise<CheckResult> {
  const cwd = path.resolve(options.cwd ?? process.cwd());
  const root = path.resolve(cwd, dir);
  if (!existsSync(root)) throw checkSetupError(`no such file or directory: ${dir}`);
  const compiler = await loadCompiler(statSync(root).isFile() ? path.dirname(root) : root, options.typescript);
  try {
    const files = listFiles(compiler, root);
    const problems: CheckProblem[] = [];
    if (files.length > 0) {
      compiler.parse(files, (file, source) => {
        checkSource(compiler.syntax, source, path.relative(cwd, file).split(path.sep).join('/'), problems);
      });
    }
    return { problems: problems.sort(byPosition), filesChecked: files.length, typescriptVersion: compiler.version };
  } finally {
    compiler.close();
  }
}

/** Render a finding as `path:line:col rule message`. */
export function formatProblem(problem: CheckProblem): string {
  return `${problem.file}:${problem.line}:${problem.column} ${problem.rule} ${problem.message}`;
}
