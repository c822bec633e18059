import type { ZodType } from 'zod';

/** Per-key conversion from query/path strings to what the schema expects. */
type Converter = (value: unknown) => unknown;

interface ZodDefLike {
  type: string;
  innerType?: ZodType;
  in?: ZodType;
  element?: ZodType;
  shape?: Record<string, ZodType>;
  left?: ZodType;
  right?: ZodType;
  options?: readonly ZodType[];
}

function defOf(schema: ZodType): ZodDefLike {
  return (schema as unknown as { _zod: { def: ZodDefLike } })._zod.def;
}

/** Strip wrappers (optional, default, nullable, pipe...) down to the type that decides the conversion. */
function baseOf(schema: ZodType): ZodDefLike {
  let def = defOf(schema);
  for (let i = 0; i < 16; i++) {
    const inner = def.innerType ?? (def.type === 'pipe' ? def.in : undefined);
    if (!inner) break;
    def = defOf(inner);
  }
  return def;
}

const toNumber: Converter = (v) => {
  if (typeof v !== 'string' || v.trim() === '') return v;
  const n = Number(v);
  return Number.isNaN(n) ? v : n;
};
const toBigint: Converter = (v) => {
  if (typeof v !== 'string' || !/^-?\d+$/.test(v)) return v;
  return BigInt(v);
};
const toBoolean: Converter = (v) => {
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  return v;
};

/** What a key converts to: `number`, `bigint`, `boolean`, `array:<kind>`, or `undefined` for nothing. */
function kindOf(schema: ZodType, depth = 0): string | undefined {
  const def = baseOf(schema);
  switch (def.type) {
    case 'number':
    case 'bigint':
    case 'boolean':
      return def.type;
    case 'array':
      return depth < 4 ? `array:${(def.element ? kindOf(def.element, depth + 1) : undefined) ?? ''}` : undefined;
    default:
      return undefined;
  }
}

function converterOf(kind: string): Converter | undefined {
  if (kind === 'number') return toNumber;
  if (kind === 'bigint') return toBigint;
  if (kind === 'boolean') return toBoolean;
  if (!kind.startsWith('array:')) return undefined;
  const each = converterOf(kind.slice('array:'.length));
  return (v) => {
    const list = Array.isArray(v) ? v : [v];
    return each ? list.map(each) : list;
  };
}

/** The object shapes of an input schema: a plain object, both sides of an intersection, every branch of a union. */
function shapesOf(schema: ZodType, out: Array<Record<string, ZodType>>, depth = 0): Array<Record<string, ZodType>> {
  if (depth > 8) return out;
  const def = baseOf(schema);
  if (def.type === 'object' && def.shape) out.push(def.shape);
  else if (def.type === 'intersection' && def.left && def.right) {
    shapesOf(def.left, out, depth + 1);
    shapesOf(def.right, out, depth + 1);
  } else if (def.type === 'union' && def.options) for (const option of def.options) shapesOf(option, out, depth + 1);
  return out;
}

/**
 * Compile, once per endpoint, a function that converts string values from the query string and path params
 * to the types the input schema's top-level keys expect (numbers, booleans, bigints, arrays), for objects,
 * intersections and unions of them. Values the
 * conversion cannot read are left as they are, so the schema reports them with a clear message.
 */
export function compileCoercer(schema: ZodType | undefined): ((record: Record<string, unknown>) => void) | undefined {
  if (!schema) return undefined;
  // Intersections and unions too; a key whose shapes disagree on its type (a union of number and string) is left as sent.
  const kinds = new Map<string, string | undefined>();
  for (const shape of shapesOf(schema, [])) {
    for (const [key, field] of Object.entries(shape)) {
      const kind = kindOf(field);
      if (!kinds.has(key)) kinds.set(key, kind);
      else if (kinds.get(key) !== kind) kinds.set(key, undefined);
    }
  }
  const plan: Array<[string, Converter]> = [];
  for (const [key, kind] of kinds) {
    const conv = kind === undefined ? undefined : converterOf(kind);
    if (conv) plan.push([key, conv]);
  }
  if (plan.length === 0) return undefined;
  return (record) => {
    for (const [key, conv] of plan) {
      const value = record[key];
      if (value !== undefined) record[key] = conv(value);
    }
  };
}
