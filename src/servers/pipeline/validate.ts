import type { ZodType, core } from 'zod';
import type { FieldIssue } from '../../errors.js';

/** Outcome of validating a value against a schema. */
export type Validation = { ok: true; value: unknown } | { ok: false; issues: FieldIssue[] };

/** Convert zod issues to `{ path, message }` with dotted paths. */
export function toFieldIssues(issues: readonly core.$ZodIssue[]): FieldIssue[] {
  return issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}

/**
 * Validate with the fast synchronous parser; schemas with async refinements fall back to the async one.
 * Returns a promise only in that case, so the common path allocates no promise.
 */
export function validate(schema: ZodType, value: unknown): Validation | Promise<Validation> {
  let result;
  try {
    result = schema.safeParse(value);
  } catch {
    // zod throws from the sync parser when the schema contains async checks.
    return schema
      .safeParseAsync(value)
      .then((r): Validation =>
        r.success ? { ok: true, value: r.data } : { ok: false, issues: toFieldIssues(r.error.issues) },
      );
  }
  return result.success ? { ok: true, value: result.data } : { ok: false, issues: toFieldIssues(result.error.issues) };
}
