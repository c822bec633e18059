/**
 * The types and constants of `gatehouse check` that its users see, free of TypeScript's own types (so a project
 * without `typescript` installed type-checks against gatehouse's declarations).
 */
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

/** The TypeScript versions `gatehouse check` works with; package.json's `typescript` peer range says the same. */
export const SUPPORTED_TYPESCRIPT = '^5.0.0 || ^6.0.0 || ^7.0.0';
