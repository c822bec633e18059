import type { ZodType } from 'zod';

/** Per-key conversion from query/path strings to what the schema expects. */
type Converter = (value: unknown) => unknown;

interface ZodDefLike {
  type: string;
  innerType?: ZodType;
  in?: ZodType;
  element?: ZodType;
  shape?: Record<string, ZodType>;
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

function converterFor(schema: ZodType): Converter | undefined {
  const def = baseOf(schema);
  switch (def.type) {
    case 'number':
      return toNumber;
    case 'bigint':
      return toBigint;
    case 'boolean':
      return toBoolean;
    case 'array': {
      const each = def.element ? converterFor(def.element) : undefined;
      return (v) => {
        const list = Array.isArray(v) ? v : [v];
        return each ? list.map(each) : list;
      };
    }
    default:
      return undefined;
  }
}

/**
 * Compile, once per endpoint, a function that converts string values from the query string and path params
 * to the types the input schema's top-level keys expect (numbers, booleans, bigints, arrays). Values the
 * conversion cannot read are left as they are, so the schema reports them with a clear message.
 */
export function compileCoercer(schema: ZodType | undefined): ((record: Record<string, unknown>) => void) | undefined {
  if (!schema) return undefined;
  const def = baseOf(schema);
  if (def.type !== 'object' || !def.shape) return undefined;
  const plan: Array<[string, Converter]> = [];
  for (const [key, field] of Object.entries(def.shape)) {
    const conv = converterFor(field);
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
