import { z, type ZodType } from 'zod';

/** A JSON Schema (or OpenAPI) object. */
export type Json = Record<string, unknown>;

/** Which side of a schema is described: what a client sends (`input`) or what it receives (`output`). */
export type SchemaIo = 'input' | 'output';

// Component references are written with this marker while the document is being built, and replaced by their
// final `#/components/schemas/<name>` once every schema is known (input and output variants may need two names).
const MARK = '\u0000ref:';
const COMPONENTS = '#/components/schemas/';

function markerOf(io: SchemaIo, name: string): string {
  return `${MARK}${io}:${name}`;
}

function parseMarker(ref: string): { io: SchemaIo; name: string } | undefined {
  if (!ref.startsWith(MARK)) return undefined;
  const rest = ref.slice(MARK.length);
  const colon = rest.indexOf(':');
  return { io: rest.slice(0, colon) as SchemaIo, name: rest.slice(colon + 1) };
}

/** Copy a JSON tree, replacing every `$ref` string through `map` (unchanged when `map` returns undefined). */
function rewriteRefs(value: unknown, map: (ref: string) => string | undefined): unknown {
  if (Array.isArray(value)) return value.map((v) => rewriteRefs(v, map));
  if (value === null || typeof value !== 'object') return value;
  const out: Json = {};
  for (const [k, v] of Object.entries(value as Json)) {
    out[k] = k === '$ref' && typeof v === 'string' ? (map(v) ?? v) : rewriteRefs(v, map);
  }
  return out;
}

function collectRefs(value: unknown, into: Set<string>): Set<string> {
  if (Array.isArray(value)) for (const v of value) collectRefs(v, into);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Json)) {
      if (k === '$ref' && typeof v === 'string') into.add(v);
      else collectRefs(v, into);
    }
  }
  return into;
}

/** The text of a schema with its references made io-neutral, to tell whether input and output variants agree. */
function neutralText(json: Json): string {
  return JSON.stringify(
    rewriteRefs(json, (ref) => {
      const m = parseMarker(ref);
      return m ? `${MARK}${m.name}` : undefined;
    }),
  );
}

function pascal(text: string): string {
  return text
    .replace(/(^|[^A-Za-z0-9]+)([A-Za-z0-9])/g, (_m, _sep: string, c: string) => c.toUpperCase())
    .replace(/[^A-Za-z0-9]/g, '');
}

/**
 * Turns zod schemas into OpenAPI schema components. Schemas with an id (`.meta({ id: 'Note' })`, zod's global
 * registry), nested or not, become `components.schemas` entries referenced by `$ref`; so does a schema object
 * used by several routes (named after the first). When a schema reads differently as input and as output
 * (defaults, transforms), the input variant is named `<Name>Input`.
 */
export class SchemaBook {
  private readonly defs = new Map<string, Json>(); // `${io}:${name}` -> schema with marker refs
  private readonly roots = new Map<ZodType, Map<SchemaIo, Json>>();
  private readonly uses = new Map<ZodType, Map<SchemaIo, number>>();
  private finalNames: Map<string, string> | undefined;

  /** `reserved`: component names the document uses itself (`Problem`); schemas with such an id are renamed. */
  constructor(private readonly reserved: ReadonlySet<string> = new Set()) {}

  /** Count a use of `schema` (call for every route slot first, so shared schemas are known before conversion). */
  use(schema: ZodType, io: SchemaIo): void {
    let byIo = this.uses.get(schema);
    if (!byIo) this.uses.set(schema, (byIo = new Map()));
    byIo.set(io, (byIo.get(io) ?? 0) + 1);
  }

  /** The schema of one route slot (with internal references until {@link finish}); `base` names it when shared. */
  schema(schema: ZodType, io: SchemaIo, base: string): Json {
    const cached = this.roots.get(schema)?.get(io);
    if (cached) return cached;
    const root = this.convert(schema, io, pascal(base));
    let byIo = this.roots.get(schema);
    if (!byIo) this.roots.set(schema, (byIo = new Map()));
    byIo.set(io, root);
    return root;
  }

  private convert(schema: ZodType, io: SchemaIo, base: string): Json {
    const raw = z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'any' }) as Json;
    delete raw.$schema;
    const defs = (raw.$defs ?? {}) as Record<string, Json>;
    delete raw.$defs;
    const selfRef =
      collectRefs(raw, new Set()).has('#') || Object.values(defs).some((d) => collectRefs(d, new Set()).has('#'));
    const shared = (this.uses.get(schema)?.get(io) ?? 0) > 1 && typeof raw.$ref !== 'string';
    // A root that refers to itself (recursion without an id) or that several routes share becomes a component.
    const liftRoot = selfRef || shared;

    const keys = Object.keys(defs);
    const local = new Map<string, string>();
    for (const key of keys)
      local.set(key, this.freeName(io, key.startsWith('__') ? `${base}${pascal(key)}` : key, true));
    const rootName = liftRoot ? this.freeName(io, base) : undefined;
    const localRef = (ref: string): string | undefined => {
      if (ref === '#' && rootName) return markerOf(io, rootName);
      if (ref.startsWith('#/$defs/')) {
        const name = local.get(ref.slice('#/$defs/'.length));
        if (name !== undefined) return markerOf(io, name);
      }
      return undefined;
    };
    // A different schema already holding a name gets this one renamed (two schemas sharing an id, say).
    for (let round = 0; round < 5; round++) {
      let renamed = false;
      for (const key of keys) {
        const name = local.get(key)!;
        const existing = this.defs.get(`${io}:${name}`);
        if (existing && JSON.stringify(existing) !== JSON.stringify(rewriteRefs(defs[key], localRef))) {
          local.set(key, this.freeName(io, name));
          renamed = true;
        }
      }
      if (!renamed) break;
    }
    for (const key of keys) this.defs.set(`${io}:${local.get(key)!}`, rewriteRefs(defs[key], localRef) as Json);
    const root = rewriteRefs(raw, localRef) as Json;
    if (!rootName) return root;
    this.defs.set(`${io}:${rootName}`, root);
    return { $ref: markerOf(io, rootName) };
  }

  /** `name`, or `name2`, `name3`... when reserved or (unless `reuse`: the same schema may come back) already taken. */
  private freeName(io: SchemaIo, name: string, reuse = false): string {
    const taken = (n: string): boolean => this.reserved.has(n) || (!reuse && this.defs.has(`${io}:${n}`));
    if (!taken(name)) return name;
    let n = 2;
    while (taken(`${name}${n}`)) n++;
    return `${name}${n}`;
  }

  /**
   * Settle the component names (an input variant that differs from its output variant, or refers to one that
   * does, becomes `<Name>Input`) and return `components.schemas`. Call once, after every {@link schema}.
   */
  finish(): Record<string, Json> {
    const byName = new Map<string, { input?: Json; output?: Json }>();
    for (const [key, json] of this.defs) {
      const colon = key.indexOf(':');
      const io = key.slice(0, colon) as SchemaIo;
      const name = key.slice(colon + 1);
      const entry = byName.get(name) ?? {};
      entry[io] = json;
      byName.set(name, entry);
    }
    const split = new Set<string>();
    for (const [name, e] of byName)
      if (e.input && e.output && neutralText(e.input) !== neutralText(e.output)) split.add(name);
    // An input variant pointing at a split schema differs from its output variant too.
    for (let changed = true; changed;) {
      changed = false;
      for (const [name, e] of byName) {
        if (split.has(name) || !e.input || !e.output) continue;
        for (const ref of collectRefs(e.input, new Set())) {
          const m = parseMarker(ref);
          if (m && split.has(m.name)) {
            split.add(name);
            changed = true;
            break;
          }
        }
      }
    }
    const names = new Map<string, string>();
    const taken = new Set(byName.keys());
    for (const [name, e] of byName) {
      if (e.output) names.set(`output:${name}`, name);
      if (!e.input) continue;
      if (!split.has(name)) {
        names.set(`input:${name}`, name);
        continue;
      }
      let candidate = `${name}Input`;
      for (let n = 2; taken.has(candidate); n++) candidate = `${name}Input${n}`;
      taken.add(candidate);
      names.set(`input:${name}`, candidate);
    }
    this.finalNames = names;
    const out: Record<string, Json> = {};
    for (const [key, json] of this.defs) {
      const final = names.get(key)!;
      if (out[final] === undefined) out[final] = this.resolve(json) as Json;
    }
    return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
  }

  /** Replace internal references in any part of the document by their final `#/components/schemas/...`. */
  resolve(value: unknown): unknown {
    const names = this.finalNames;
    if (!names) throw new Error('SchemaBook.resolve before finish');
    return rewriteRefs(value, (ref) => {
      const m = parseMarker(ref);
      return m ? `${COMPONENTS}${names.get(`${m.io}:${m.name}`) ?? m.name}` : undefined;
    });
  }
}

/** What a schema says about the keys of the object it validates. */
export interface ObjectShape {
  /** Known properties, with whether every accepted value has them. */
  properties: Map<string, { schema: Json; required: boolean }>;
  /** Schema of further keys (a record, `catchall`), when the shape allows any. */
  additional: Json | undefined;
}

/**
 * The object shape of a (resolved) JSON Schema: plain objects, `$ref`s, intersections (`allOf`) and unions
 * (`anyOf`/`oneOf`: a key is required only when every branch requires it). Non-object schemas have no keys.
 */
export function objectShape(schema: Json, components: Readonly<Record<string, Json>>, depth = 0): ObjectShape {
  const shape: ObjectShape = { properties: new Map(), additional: undefined };
  if (depth > 16) return shape;
  if (typeof schema.$ref === 'string' && schema.$ref.startsWith(COMPONENTS)) {
    const target = components[schema.$ref.slice(COMPONENTS.length)];
    return target ? objectShape(target, components, depth + 1) : shape;
  }
  const props = schema.properties as Record<string, Json> | undefined;
  if (props && typeof props === 'object') {
    const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
    for (const [key, s] of Object.entries(props)) shape.properties.set(key, { schema: s, required: required.has(key) });
  }
  const extra = schema.additionalProperties;
  if (extra !== undefined && extra !== false && (props === undefined || Object.keys(props).length === 0))
    shape.additional = extra === true ? {} : (extra as Json);
  if (Array.isArray(schema.allOf)) {
    for (const part of schema.allOf as Json[]) {
      const s = objectShape(part, components, depth + 1);
      for (const [key, p] of s.properties) {
        const had = shape.properties.get(key);
        shape.properties.set(key, {
          schema: had?.schema ?? p.schema,
          required: p.required || (had?.required ?? false),
        });
      }
      shape.additional ??= s.additional;
    }
  }
  const branches = (
    Array.isArray(schema.anyOf) ? schema.anyOf : Array.isArray(schema.oneOf) ? schema.oneOf : undefined
  ) as Json[] | undefined;
  if (branches && branches.length > 0) {
    const shapes = branches.map((b) => objectShape(b, components, depth + 1));
    const keys = new Set(shapes.flatMap((s) => [...s.properties.keys()]));
    for (const key of keys) {
      const variants: Json[] = [];
      const seen = new Set<string>();
      let everywhere = true;
      for (const s of shapes) {
        const p = s.properties.get(key);
        if (!p) {
          everywhere = false;
          continue;
        }
        if (!p.required) everywhere = false;
        const text = JSON.stringify(p.schema);
        if (!seen.has(text)) {
          seen.add(text);
          variants.push(p.schema);
        }
      }
      if (shape.properties.has(key)) continue;
      shape.properties.set(key, {
        schema: variants.length === 1 ? variants[0]! : { anyOf: variants },
        required: everywhere,
      });
    }
    for (const s of shapes) shape.additional ??= s.additional;
  }
  return shape;
}

/** A copy of an object schema without some keys (path parameters documented apart), or the schema itself. */
export function withoutKeys(schema: Json, keys: readonly string[], components: Readonly<Record<string, Json>>): Json {
  if (keys.length === 0) return schema;
  let target = schema;
  if (typeof schema.$ref === 'string' && schema.$ref.startsWith(COMPONENTS))
    target = components[schema.$ref.slice(COMPONENTS.length)] ?? schema;
  const props = target.properties as Record<string, Json> | undefined;
  if (!props || !keys.some((k) => k in props)) return schema;
  const copy: Json = {
    ...target,
    properties: Object.fromEntries(Object.entries(props).filter(([k]) => !keys.includes(k))),
  };
  if (Array.isArray(target.required)) copy.required = (target.required as string[]).filter((k) => !keys.includes(k));
  delete copy.$id;
  return copy;
}

/** Whether a zod schema describes "nothing" (`z.void()`, `z.undefined()`): its route answers 204. */
export function isNothing(schema: ZodType | undefined): boolean {
  const type = (schema as { _zod?: { def?: { type?: string } } } | undefined)?._zod?.def?.type;
  return type === 'void' || type === 'undefined';
}
