const UNITS: Readonly<Record<string, number>> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/**
 * Parse a byte size such as `'100kb'`, `'1.5mb'` or `2048`. Returns `undefined` for anything else so the
 * caller can name the offending option.
 */
export function parseBytes(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.floor(value) : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(value);
  if (!m) return undefined;
  const unit = UNITS[(m[2] ?? 'b').toLowerCase()] ?? 1;
  return Math.floor(Number(m[1]) * unit);
}
