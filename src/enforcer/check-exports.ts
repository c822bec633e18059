/**
 * The export walk of `gatehouse check`: one pass over a parsed source file's top-level statements, written once
 * against {@link Syntax}, the part of a TypeScript compiler it needs. TypeScript 5/6 provide it from their
 * classic API, TypeScript 7 from its `unstable/ast` module (same node shapes, its own SyntaxKind numbers).
 */
import type TS from 'typescript';
import { MAX_PARAMETERS } from './enforce.js';
import type { CheckProblem, CheckRule } from './check-types.js';

/** The node tests and functions of a TypeScript compiler that the walk uses, by their TypeScript names. */
export const SYNTAX_FUNCTIONS = [
  'isArrowFunction',
  'isAsExpression',
  'isBigIntLiteral',
  'isClassDeclaration',
  'isConstructorDeclaration',
  'isExportAssignment',
  'isExportDeclaration',
  'isFunctionDeclaration',
  'isFunctionExpression',
  'isIdentifier',
  'isJSDoc',
  'isMethodDeclaration',
  'isNamedExports',
  'isNoSubstitutionTemplateLiteral',
  'isNumericLiteral',
  'isParenthesizedExpression',
  'isPrefixUnaryExpression',
  'isPrivateIdentifier',
  'isSatisfiesExpression',
  'isStringLiteral',
  'isVariableDeclaration',
  'isVariableStatement',
  'getTextOfJSDocComment',
] as const;

/** What the walk needs from a compiler: node tests, SyntaxKind, and the JSDoc blocks that document a node. */
export type Syntax = Pick<typeof TS, (typeof SYNTAX_FUNCTIONS)[number] | 'SyntaxKind'> & {
  /** The JSDoc blocks that document `node`, as `ts.getJSDocCommentsAndTags` keeps them (blocks only, no tags). */
  docs(node: TS.Node): readonly TS.JSDoc[];
};

type FunctionLike =
  TS.FunctionDeclaration | TS.MethodDeclaration | TS.ConstructorDeclaration | TS.ArrowFunction | TS.FunctionExpression;

/** Blanks and comments, matched from a position (sticky). */
const TRIVIA = /(?:\s|\/\/[^\n]*|\/\*[\s\S]*?\*\/)*/y;

/** The modifiers of a node (decorators included, which never match a keyword kind). */
function modifiersOf(node: TS.Node): readonly TS.ModifierLike[] | undefined {
  return (node as { modifiers?: readonly TS.ModifierLike[] }).modifiers;
}

/**
 * Check one parsed file's exports, appending findings to `out`.
 * @param ts - the compiler's syntax functions
 * @param sf - the parsed file
 * @param rel - the file's path as reported
 * @param out - where findings go
 */
export function checkSource(ts: Syntax, sf: TS.SourceFile, rel: string, out: CheckProblem[]): void {
  const K = ts.SyntaxKind;
  const at = (pos: number, rule: CheckRule, message: string): void => {
    const { line, character } = sf.getLineAndCharacterOfPosition(pos);
    out.push({ file: rel, line: line + 1, column: character + 1, rule, message });
  };
  const report = (node: TS.Node, rule: CheckRule, message: string): void => at(node.getStart(sf), rule, message);

  const hasModifier = (node: TS.Node, modifier: TS.SyntaxKind): boolean =>
    modifiersOf(node)?.some((m) => m.kind === modifier) ?? false;

  /** A JSDoc block with summary text (or an inheritDoc) documents the node. */
  const hasDocSummary = (node: TS.Node): boolean =>
    ts
      .docs(node)
      .some(
        (doc) =>
          (ts.getTextOfJSDocComment(doc.comment) ?? '').trim() !== '' ||
          (doc.tags?.some((t) => /^inheritDoc$/i.test(t.tagName.text)) ?? false),
      );

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
    hasModifier(node, K.ExportKeyword) || (name !== undefined && exportedNames.has(name));

  const paramLabel = (p: TS.ParameterDeclaration): string => {
    const t = p.name.getText(sf).replace(/\s+/g, ' ');
    return t.length > 40 ? `${t.slice(0, 37)}...` : t;
  };

  /** `limit = 10`, `name = 'x'`, `strict = false`: a primitive literal default states the type in the signature. */
  const hasLiteralDefault = (p: TS.ParameterDeclaration): boolean => {
    let e = p.initializer;
    if (e === undefined) return false;
    if (ts.isPrefixUnaryExpression(e) && e.operator === K.MinusToken) e = e.operand;
    return (
      ts.isNumericLiteral(e) ||
      ts.isBigIntLiteral(e) ||
      ts.isStringLiteral(e) ||
      ts.isNoSubstitutionTemplateLiteral(e) ||
      e.kind === K.TrueKeyword ||
      e.kind === K.FalseKeyword
    );
  };

  /** The function expression inside `(...)`, `x as T` or `x satisfies T`, if any. */
  const unwrap = (expr: TS.Expression): TS.ArrowFunction | TS.FunctionExpression | undefined => {
    let e = expr;
    while (ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isSatisfiesExpression(e)) e = e.expression;
    return ts.isArrowFunction(e) || ts.isFunctionExpression(e) ? e : undefined;
  };

  /** Parameter and return-type rules for one signature, reported at `pos`. */
  const checkSignature = (
    fn: FunctionLike,
    label: string,
    pos: number,
    opts: { types: boolean; returnType: boolean },
  ): void => {
    const params = fn.parameters.filter((p) => !(ts.isIdentifier(p.name) && p.name.text === 'this'));
    if (params.length > MAX_PARAMETERS) {
      at(pos, 'too-many-params', `${label} declares ${params.length} parameters (at most ${MAX_PARAMETERS})`);
    }
    if (opts.types) {
      for (const p of params) {
        if (!p.type && !hasLiteralDefault(p)) {
          report(p, 'untyped-param', `parameter '${paramLabel(p)}' of ${label} has no explicit type`);
        }
      }
    }
    if (opts.returnType && !fn.type) at(pos, 'missing-return-type', `${label} has no explicit return type`);
  };

  /** Where the `constructor` keyword starts: after the modifiers and any comments. */
  const constructorKeyword = (ctor: TS.ConstructorDeclaration): number => {
    const mods = modifiersOf(ctor);
    TRIVIA.lastIndex = mods?.length ? mods[mods.length - 1]!.end : ctor.pos;
    TRIVIA.exec(sf.text);
    return TRIVIA.lastIndex;
  };

  const checkClass = (cls: TS.ClassDeclaration): void => {
    const className = cls.name?.text ?? 'default';
    if (!hasDocSummary(cls))
      report(cls.name ?? cls, 'missing-jsdoc', `exported class '${className}' has no JSDoc summary`);
    const members = cls.members;
    for (let i = 0; i < members.length; i++) {
      const m = members[i]!;
      if (hasModifier(m, K.PrivateKeyword) || hasModifier(m, K.ProtectedKeyword)) continue;
      if (ts.isConstructorDeclaration(m)) {
        const label = `constructor of '${className}'`;
        checkSignature(m, label, constructorKeyword(m), { types: true, returnType: false });
        continue;
      }
      if (!ts.isMethodDeclaration(m) || ts.isPrivateIdentifier(m.name)) continue;
      const label = `method '${className}.${m.name.getText(sf)}'`;
      // Overloads share one JSDoc: the group is documented when any of its signatures is.
      const group = overloadGroup(members, i, (n) => (ts.isMethodDeclaration(n) ? n.name.getText(sf) : undefined));
      if (group[0] === m && !group.some(hasDocSummary))
        report(m.name, 'missing-jsdoc', `public ${label} has no JSDoc summary`);
      checkSignature(m, label, m.name.getStart(sf), { types: true, returnType: true });
    }
  };

  const statements = sf.statements;
  for (let i = 0; i < statements.length; i++) {
    const stmt = statements[i]!;
    if (ts.isFunctionDeclaration(stmt)) {
      const name = stmt.name?.text;
      if (!isExported(stmt, name)) continue;
      const label = `function '${name ?? 'default'}'`;
      const node = stmt.name ?? stmt;
      const group = overloadGroup(statements, i, (n) => (ts.isFunctionDeclaration(n) ? n.name?.text : undefined));
      if (group[0] === stmt && !group.some(hasDocSummary))
        report(node, 'missing-jsdoc', `exported ${label} has no JSDoc summary`);
      checkSignature(stmt, label, node.getStart(sf), { types: true, returnType: true });
    } else if (ts.isClassDeclaration(stmt)) {
      if (isExported(stmt, stmt.name?.text)) checkClass(stmt);
    } else if (ts.isVariableStatement(stmt)) {
      for (const decl of stmt.declarationList.declarations) {
        if (!ts.isIdentifier(decl.name) || !decl.initializer) continue;
        if (!isExported(stmt, decl.name.text)) continue;
        const fn = unwrap(decl.initializer);
        if (!fn) continue;
        const label = `function '${decl.name.text}'`;
        if (!hasDocSummary(decl)) report(decl.name, 'missing-jsdoc', `exported ${label} has no JSDoc summary`);
        const needsTypes = decl.type === undefined;
        checkSignature(fn, label, decl.name.getStart(sf), { types: needsTypes, returnType: needsTypes });
      }
    } else if (ts.isExportAssignment(stmt) && !stmt.isExportEquals) {
      const fn = unwrap(stmt.expression);
      if (!fn) continue;
      const label = `default export function`;
      if (!hasDocSummary(stmt)) report(stmt, 'missing-jsdoc', `${label} has no JSDoc summary`);
      checkSignature(fn, label, stmt.getStart(sf), { types: true, returnType: true });
    }
  }
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
