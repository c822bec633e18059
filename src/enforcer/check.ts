import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type TS from 'typescript';
import { MAX_PARAMETERS } from './enforce.js';
import { EnforcementError } from './errors.js';

/**
 * Rules of the static pass:
 * - `missing-jsdoc`: an exported function, class, arrow-function const or public method has no JSDoc summary.
 * - `untyped-param`: a parameter has no explicit type annotation (a primitive literal default such as
 *   `limit = 10` counts as explicit).
 * - `missing-return-type`: a function or method has no explicit return type.
 * - `too-many-params`: more than 8 parameters (a `this` parameter does not count).
 */
export type CheckRule = 'missing-jsdoc' | 'untyped-param' | 'missing-return-type' | 'too-many-params';

/** One finding of `checkProject()`. */
export interface CheckProblem {
  /** File path relative to `cwd`, with `/` separators. */
  file: string;
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  column: number;
  /** The rule that failed. */
  rule: CheckRule;
  /** What is wrong, naming the function. */
  message: string;
}

/** Options of `checkProject()`. */
export interface CheckOptions {
  /** Directory that reported paths are relative to. @defaultValue `process.cwd()` */
  cwd?: string;
}

/** Result of `checkProject()`. */
export interface CheckResult {
  /** Findings sorted by file, line, column and rule. */
  problems: CheckProblem[];
  /** How many source files were read. */
  filesChecked: number;
}

type Ts = typeof TS;

const SOURCE_EXT = /\.(ts|tsx|mts|cts)$/;
const DECLARATION_EXT = /\.d\.(ts|mts|cts)$|\.d\.[^/\\]+\.ts$/;
const SKIP_DIRS = new Set(['node_modules', 'dist']);

/** Load the TypeScript compiler, preferring the copy installed in the checked project. */
async function loadTypeScript(dir: string): Promise<Ts> {
  let specifier = 'typescript';
  try {
    specifier = pathToFileURL(createRequire(path.join(dir, 'noop.js')).resolve('typescript')).href;
  } catch {
    // Not installed in the project: fall back to the copy next to gatehouse.
  }
  try {
    const mod = (await import(specifier)) as { default?: Ts } & Ts;
    return mod.default ?? mod;
  } catch (cause) {
    throw new EnforcementError(
      "the 'typescript' package is not installed; gatehouse check needs it (npm install --save-dev typescript)",
      {
        code: 'ERR_ENFORCE_CONFIG',
        functionName: 'check',
        cause,
      },
    );
  }
}

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
function listFiles(ts: Ts, dir: string): string[] {
  if (statSync(dir).isFile()) return [dir];
  const configPath = path.join(dir, 'tsconfig.json');
  if (existsSync(configPath)) {
    const read = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
    if (read.error) {
      throw new EnforcementError(
        `cannot read ${configPath}: ${ts.flattenDiagnosticMessageText(read.error.messageText, '\n')}`,
        {
          code: 'ERR_ENFORCE_CONFIG',
          functionName: 'check',
        },
      );
    }
    const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, dir, undefined, configPath);
    return parsed.fileNames.map((f) => path.resolve(f)).filter((f) => isSourceFile(f) && !inSkippedDir(f, dir));
  }
  const files: string[] = [];
  walk(dir, files);
  return files;
}

/**
 * Statically check a project's exported API with the TypeScript compiler API: exported functions, exported
 * arrow-function/function-expression consts, exported classes and their public methods must have a JSDoc
 * summary, explicit parameter and return types, and at most 8 parameters. Constructors are checked for
 * parameter types and count only (the class JSDoc documents them). Consts with a type annotation
 * (`export const h: Handler = (req) => ...`) take their parameter and return types from it.
 * Files come from `dir/tsconfig.json` when present, else every `.ts`/`.tsx` under `dir`
 * (skipping `node_modules`, `dist` and declaration files). `dir` may also be a single file.
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
  if (!existsSync(root)) {
    throw new EnforcementError(`no such file or directory: ${dir}`, {
      code: 'ERR_ENFORCE_CONFIG',
      functionName: 'check',
    });
  }
  const ts = await loadTypeScript(statSync(root).isFile() ? path.dirname(root) : root);
  const files = listFiles(ts, root);
  const problems: CheckProblem[] = [];
  for (const file of files) {
    const rel = path.relative(cwd, file).split(path.sep).join('/');
    checkSource(ts, file, readFileSync(file, 'utf8'), rel, problems);
  }
  problems.sort(
    (a, b) =>
      (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
      a.line - b.line ||
      a.column - b.column ||
      (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0),
  );
  return { problems, filesChecked: files.length };
}

/** Render a finding as `path:line:col rule message`. */
export function formatProblem(problem: CheckProblem): string {
  return `${problem.file}:${problem.line}:${problem.column} ${problem.rule} ${problem.message}`;
}

type FunctionLike =
  TS.FunctionDeclaration | TS.MethodDeclaration | TS.ConstructorDeclaration | TS.ArrowFunction | TS.FunctionExpression;

/** Check one file's exports, appending findings to `out`. */
function checkSource(ts: Ts, fileName: string, text: string, rel: string, out: CheckProblem[]): void {
  const kind = fileName.endsWith('x') ? ts.ScriptKind.TSX : ts.ScriptKind.TS;
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, kind);

  const report = (node: TS.Node, rule: CheckRule, message: string): void => {
    const { line, character } = sf.getLineAndCharacterOfPosition(node.getStart(sf));
    out.push({ file: rel, line: line + 1, column: character + 1, rule, message });
  };

  const hasModifier = (node: TS.Node, modifier: TS.SyntaxKind): boolean =>
    ts.canHaveModifiers(node) && (ts.getModifiers(node)?.some((m) => m.kind === modifier) ?? false);

  /** A JSDoc block with summary text (or an inheritDoc) documents the node. */
  const hasDocSummary = (node: TS.Node): boolean =>
    ts.getJSDocCommentsAndTags(node).some((doc) => {
      if (!ts.isJSDoc(doc)) return false;
      if ((ts.getTextOfJSDocComment(doc.comment) ?? '').trim() !== '') return true;
      return doc.tags?.some((t) => /^inheritDoc$/i.test(t.tagName.text)) ?? false;
    });

  // Names exported through `export { a, b as c }` / `export default a` without a module specifier.
  const exportedNames = new Set<string>();
  for (const stmt of sf.statements) {
    if (
      ts.isExportDeclaration(stmt) &&
      !stmt.moduleSpecifier &&
      !stmt.isTypeOnly &&
      stmt.exportClause &&
      ts.isNamedExports(stmt.exportClause)
    ) {
      for (const el of stmt.exportClause.elements) {
        if (!el.isTypeOnly) exportedNames.add((el.propertyName ?? el.name).text);
      }
    } else if (ts.isExportAssignment(stmt) && ts.isIdentifier(stmt.expression)) {
      exportedNames.add(stmt.expression.text);
    }
  }
  const isExported = (node: TS.Node, name: string | undefined): boolean =>
    hasModifier(node, ts.SyntaxKind.ExportKeyword) || (name !== undefined && exportedNames.has(name));

  const paramLabel = (p: TS.ParameterDeclaration): string => {
    const t = p.name.getText(sf).replace(/\s+/g, ' ');
    return t.length > 40 ? `${t.slice(0, 37)}...` : t;
  };

  /** Parameter and return-type rules for one signature. */
  const checkSignature = (
    fn: FunctionLike,
    label: string,
    at: TS.Node,
    opts: { types: boolean; returnType: boolean },
  ): void => {
    const params = fn.parameters.filter((p) => !(ts.isIdentifier(p.name) && p.name.text === 'this'));
    if (params.length > MAX_PARAMETERS) {
      report(at, 'too-many-params', `${label} declares ${params.length} parameters (at most ${MAX_PARAMETERS})`);
    }
    if (opts.types) {
      for (const p of params) {
        if (!p.type && !hasLiteralDefault(ts, p)) {
          report(p, 'untyped-param', `parameter '${paramLabel(p)}' of ${label} has no explicit type`);
        }
      }
    }
    if (opts.returnType && !fn.type) report(at, 'missing-return-type', `${label} has no explicit return type`);
  };

  const checkClass = (cls: TS.ClassDeclaration): void => {
    const className = cls.name?.text ?? 'default';
    const at = cls.name ?? cls;
    if (!hasDocSummary(cls)) report(at, 'missing-jsdoc', `exported class '${className}' has no JSDoc summary`);
    const members = cls.members;
    for (let i = 0; i < members.length; i++) {
      const m = members[i]!;
      if (ts.isConstructorDeclaration(m)) {
        if (hasModifier(m, ts.SyntaxKind.PrivateKeyword) || hasModifier(m, ts.SyntaxKind.ProtectedKeyword)) continue;
        const ctorAt = m.getChildren(sf).find((c) => c.kind === ts.SyntaxKind.ConstructorKeyword) ?? m;
        checkSignature(m, `constructor of '${className}'`, ctorAt, { types: true, returnType: false });
        continue;
      }
      if (!ts.isMethodDeclaration(m)) continue;
      if (ts.isPrivateIdentifier(m.name)) continue;
      if (hasModifier(m, ts.SyntaxKind.PrivateKeyword) || hasModifier(m, ts.SyntaxKind.ProtectedKeyword)) continue;
      const label = `method '${className}.${m.name.getText(sf)}'`;
      // Overloads share one JSDoc: the group is documented when any of its signatures is.
      const group = overloadGroup(members, i, (n) => (ts.isMethodDeclaration(n) ? n.name.getText(sf) : undefined));
      if (group[0] === m && !group.some(hasDocSummary))
        report(m.name, 'missing-jsdoc', `public ${label} has no JSDoc summary`);
      checkSignature(m, label, m.name, { types: true, returnType: true });
    }
  };

  const statements = sf.statements;
  for (let i = 0; i < statements.length; i++) {
    const stmt = statements[i]!;
    if (ts.isFunctionDeclaration(stmt)) {
      const name = stmt.name?.text;
      if (!isExported(stmt, name)) continue;
      const label = `function '${name ?? 'default'}'`;
      const at = stmt.name ?? stmt;
      const group = overloadGroup(statements, i, (n) => (ts.isFunctionDeclaration(n) ? n.name?.text : undefined));
      if (group[0] === stmt && !group.some(hasDocSummary))
        report(at, 'missing-jsdoc', `exported ${label} has no JSDoc summary`);
      checkSignature(stmt, label, at, { types: true, returnType: true });
    } else if (ts.isClassDeclaration(stmt)) {
      if (isExported(stmt, stmt.name?.text)) checkClass(stmt);
    } else if (ts.isVariableStatement(stmt)) {
      for (const decl of stmt.declarationList.declarations) {
        if (!ts.isIdentifier(decl.name) || !decl.initializer) continue;
        if (!isExported(stmt, decl.name.text)) continue;
        const fn = unwrap(ts, decl.initializer);
        if (!fn) continue;
        const label = `function '${decl.name.text}'`;
        if (!hasDocSummary(decl)) report(decl.name, 'missing-jsdoc', `exported ${label} has no JSDoc summary`);
        const needsTypes = decl.type === undefined;
        checkSignature(fn, label, decl.name, { types: needsTypes, returnType: needsTypes });
      }
    } else if (ts.isExportAssignment(stmt) && !stmt.isExportEquals) {
      const fn = unwrap(ts, stmt.expression);
      if (!fn) continue;
      const label = `default export function`;
      if (!hasDocSummary(stmt)) report(stmt, 'missing-jsdoc', `${label} has no JSDoc summary`);
      checkSignature(fn, label, stmt, { types: true, returnType: true });
    }
  }
}

/**
 * `limit = 10`, `name = 'x'`, `strict = false`: a primitive literal default states the type in the signature
 * (and `@typescript-eslint/no-inferrable-types` forbids annotating it), so it counts as explicit.
 */
function hasLiteralDefault(ts: Ts, p: TS.ParameterDeclaration): boolean {
  let e = p.initializer;
  if (e === undefined) return false;
  if (ts.isPrefixUnaryExpression(e) && e.operator === ts.SyntaxKind.MinusToken) e = e.operand;
  return (
    ts.isNumericLiteral(e) ||
    ts.isBigIntLiteral(e) ||
    ts.isStringLiteral(e) ||
    ts.isNoSubstitutionTemplateLiteral(e) ||
    e.kind === ts.SyntaxKind.TrueKeyword ||
    e.kind === ts.SyntaxKind.FalseKeyword
  );
}

/** The function expression inside `(...)`, `x as T` or `x satisfies T`, if any. */
function unwrap(ts: Ts, expr: TS.Expression): TS.ArrowFunction | TS.FunctionExpression | undefined {
  let e = expr;
  while (ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isSatisfiesExpression(e)) e = e.expression;
  return ts.isArrowFunction(e) || ts.isFunctionExpression(e) ? e : undefined;
}

/** The run of same-named declarations (overloads plus implementation) that `list[i]` belongs to. */
function overloadGroup<T>(list: readonly T[], i: number, nameOf: (node: T) => string | undefined): T[] {
  const name = nameOf(list[i]!);
  if (name === undefined) return [list[i]!];
  let start = i;
  while (start > 0 && nameOf(list[start - 1]!) === name) start--;
  let end = i;
  while (end + 1 < list.length && nameOf(list[end + 1]!) === name) end++;
  return list.slice(start, end + 1);
}
