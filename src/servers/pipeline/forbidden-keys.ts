/** Keys that never reach a handler: they are the doors to prototype pollution. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Remove `__proto__`, `constructor` and `prototype` own keys from a parsed value, in place, at any depth. One
 * iterative walk (an explicit stack, so nesting depth costs heap, never the call stack) over plain objects and
 * arrays; binary payloads (Buffers, typed arrays) are skipped. Returns the same value for chaining.
 */
export function stripForbiddenKeys<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  const stack: object[] = [value];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (ArrayBuffer.isView(node) || node instanceof ArrayBuffer) continue;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const item: unknown = node[i];
        if (item !== null && typeof item === 'object') stack.push(item);
      }
      // Arrays can carry named own keys too (not from JSON, but from other parsers).
      if (Object.hasOwn(node, '__proto__') || Object.hasOwn(node, 'constructor') || Object.hasOwn(node, 'prototype'))
        removeKeys(node as unknown as Record<string, unknown>);
      continue;
    }
    const record = node as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (FORBIDDEN_KEYS.has(key)) {
        delete record[key];
        continue;
      }
      const child = record[key];
      if (child !== null && typeof child === 'object') stack.push(child);
    }
  }
  return value;
}

function removeKeys(record: Record<string, unknown>): void {
  for (const key of FORBIDDEN_KEYS) if (Object.hasOwn(record, key)) delete record[key];
}

// One scan of the text: a parsed value can hold a forbidden key only if the text spells one plainly or escapes something.
const MAY_HOLD_FORBIDDEN = /__proto__|constructor|prototype|\\/;

/**
 * Parse JSON text so that `__proto__`, `constructor` and `prototype` keys, however spelled (`\u0063onstructor`
 * included) and at any depth, are gone. The walk runs only when the text could hold one (it spells a name or
 * contains an escape), so ordinary bodies pay a single scan.
 */
export function parseJsonSafe(text: string): unknown {
  const value: unknown = JSON.parse(text);
  if (value !== null && typeof value === 'object' && MAY_HOLD_FORBIDDEN.test(text)) stripForbiddenKeys(value);
  return value;
}
