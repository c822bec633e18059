/**
 * Option-resolution helpers shared by capabilities (database, buffers): one way to drop `undefined` fields
 * before spreading options over a `DEFAULTS` object.
 */

/**
 * A shallow copy of `o` without the fields whose value is `undefined`, so `{ ...DEFAULTS, ...definedFields(o) }`
 * keeps a default wherever the user passed `undefined`.
 * @param o - user options (undefined gives `{}`)
 * @returns the defined fields
 */
export function definedFields<T extends object>(o: T | undefined): Partial<T> {
  const out: Partial<T> = {};
  if (o) for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
