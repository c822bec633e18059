import type { ZodType } from 'zod';

/** Writes a value as JSON when it matches the schema it was compiled from, else returns `undefined`. */
export type Serializer = (value: unknown) => string | undefined;

interface DefLike {
  type: string;
  checks?: ReadonlyArray<{ _zod: { def: { check?: string; format?: string } } }>;
  shape?: Record<string, ZodType>;
  catchall?: ZodType;
  innerType?: ZodType;
  element?: ZodType;
}

const defOf = (schema: ZodType): DefLike => (schema as unknown as { _zod: { def: DefLike } })._zod.def;
const noChecks = (def: DefLike): boolean => def.checks === undefined || def.checks.length === 0;
const scalar = (v: unknown): boolean => v === null || ['string', 'number', 'boolean'].includes(typeof v);

/**
 * The values a literal or an enum accepts, as zod holds them (a native enum's reverse mappings left out: its
 * `entries` would also allow the member names), when they are all JSON scalars; else `undefined`.
 */
function scalarValues(schema: ZodType): ReadonlySet<unknown> | undefined {
  const values = (schema as unknown as { _zod: { values?: ReadonlySet<unknown> } })._zod.values;
  return values !== undefined && [...values].every(scalar) ? values : undefined;
}

function compileNode(schema: ZodType, depth: number): Serializer | undefined {
  if (depth > 16) return undefined;
  const def = defOf(schema);
  switch (def.type) {
    case 'string':
      return noChecks(def) ? (v) => (typeof v === 'string' ? JSON.stringify(v) : undefined) : undefined;
    case 'number': {
      // zod's numbers are finite; `.int()` means a safe integer. Any other check goes through zod.
      const formats = (def.checks ?? []).map((c) => c._zod.def);
      if (formats.some((c) => c.check !== 'number_format' || c.format !== 'safeint')) return undefined;
      return formats.length > 0
        ? (v) => (typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : undefined)
        : (v) => (typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined);
    }
    case 'boolean':
      return (v) => (v === true ? 'true' : v === false ? 'false' : undefined);
    case 'null':
      return (v) => (v === null ? 'null' : undefined);
    case 'literal':
    case 'enum': {
      const set = scalarValues(schema);
      if (!set) return undefined;
      return (v) => (set.has(v) ? JSON.stringify(v) : undefined);
    }
    case 'nullable': {
      const inner = def.innerType && compileNode(def.innerType, depth + 1);
      return inner && ((v) => (v === null ? 'null' : inner(v)));
    }
    case 'array': {
      const each = noChecks(def) && def.element ? compileNode(def.element, depth + 1) : undefined;
      if (!each) return undefined;
      return (v) => {
        if (!Array.isArray(v)) return undefined;
        let out = '[';
        for (let i = 0; i < v.length; i++) {
          const s = each(v[i]);
          if (s === undefined) return undefined;
          out += i === 0 ? s : `,${s}`;
        }
        return `${out}]`;
      };
    }
    case 'object':
      return compileObject(def, depth);
    default:
      return undefined;
  }
}

/** An object that strips unknown keys (zod's default), each field plain or optional. */
function compileObject(def: DefLike, depth: number): Serializer | undefined {
  if (def.catchall !== undefined || !noChecks(def) || !def.shape) return undefined;
  const fields: Array<{ key: string; prefix: string; optional: boolean; write: Serializer }> = [];
  for (const [key, field] of Object.entries(def.shape)) {
    const fieldDef = defOf(field);
    const optional = fieldDef.type === 'optional';
    const target = optional ? fieldDef.innerType : field;
    const write = target && compileNode(target, depth + 1);
    if (!write) return undefined;
    fields.push({ key, prefix: JSON.stringify(key), optional, write });
  }
  return (v) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    const record = v as Record<string, unknown>;
    let out = '';
    for (const f of fields) {
      const value = record[f.key];
      if (value === undefined && f.optional) continue;
      const s = f.write(value);
      if (s === undefined) return undefined;
      out += `${out === '' ? '' : ','}${f.prefix}:${s}`;
    }
    return `{${out}}`;
  };
}

/**
 * Compile an output schema once into a serializer that checks and writes in one pass: the JSON text of exactly
 * what zod's parse would output (declared keys only, in the schema's order), or `undefined` when the value does
 * not match. Only schemas whose every check this can make itself compile: objects that strip unknown keys,
 * arrays, strings, numbers (and `.int()`), booleans, null, literals, enums, optional and nullable. Anything else
 * (refinements, transforms, defaults, string checks...) returns `undefined`: validate with zod, then stringify.
 */
export function compileSerializer(schema: ZodType): Serializer | undefined {
  const def = defOf(schema);
  return def.type === 'object' || def.type === 'array' ? compileNode(schema, 0) : undefined;
}
