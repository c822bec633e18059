/**
 * Route discovery: load every module under a folder, collect the endpoints made with `defineEndpoint`, check
 * them all (duplicates, configuration) and compile them before anything is registered, so a bad folder
 * registers nothing.
 */
import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { GatehouseError } from '../../errors.js';
import { PortalError } from '../errors.js';
import { isEndpointDefinition, type AnyEndpointDefinition } from './define-endpoint.js';
import { compileEndpoint, type CompiledEndpoint, type EndpointDeps } from './endpoint.js';
import type { EndpointMethod } from './options.js';

/** One route registered by `portal.discover(dir)`. */
export interface DiscoveredEndpoint {
  /** The HTTP method (a definition with several methods gives one entry per method). */
  method: EndpointMethod;
  /** The route path. */
  path: string;
  /** The module that exported it, relative to the discovered folder, with `/` separators (`notes/get.ts`). */
  file: string;
  /** Where in the module: `default`, an export name, or `name[2]` for an element of an exported array. */
  exportName: string;
}

/** What the portal mounts: one compiled endpoint per method, per path. */
export interface DiscoveredMount {
  path: string;
  endpoints: CompiledEndpoint[];
}

/** Module files discovery loads. */
const EXTENSIONS: ReadonlySet<string> = new Set(['.js', '.mjs', '.ts']);
/** Declarations and tests are never endpoints. */
const SKIPPED_FILE = /\.d\.[cm]?ts$|\.(?:test|spec)\.[cm]?[jt]s$/i;
const SKIPPED_DIR: ReadonlySet<string> = new Set(['node_modules', '__tests__']);

/** One definition to register, and where it came from. */
export interface FoundDefinition {
  definition: AnyEndpointDefinition;
  /** The module (discover), or `''` for definitions handed to `portal.register`. */
  file: string;
  /** The export name (discover), or the key / `[index]` in the object or array given to `portal.register`. */
  exportName: string;
  methods: readonly EndpointMethod[];
  /** The key in the routes object given to `portal.register` (its OpenAPI `operationId`). */
  key?: string;
}
type Found = FoundDefinition;

function where(found: Found): string {
  return found.file === ''
    ? `routes${found.exportName.startsWith('[') ? '' : '.'}${found.exportName}`
    : `${found.file} (export ${found.exportName})`;
}

/** Code-unit order, the same on every machine and locale. */
function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Module files under `root`, relative with `/` separators, sorted. */
async function listModules(root: string): Promise<string[]> {
  const files: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(path.join(root, rel), { withFileTypes: true });
    } catch (err) {
      throw new PortalError(`discover: cannot read the folder ${path.join(root, rel)}: ${(err as Error).message}`, {
        code: 'ERR_DISCOVER_DIR',
        cause: err,
      });
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const child = rel === '' ? entry.name : `${rel}/${entry.name}`;
      let isFile = entry.isFile();
      if (entry.isSymbolicLink()) {
        // Linked files are loaded; linked folders are not followed (a link back up would never end).
        isFile = (await stat(path.join(root, child)).catch(() => undefined))?.isFile() === true;
      }
      if (entry.isDirectory()) {
        if (!SKIPPED_DIR.has(entry.name)) await walk(child);
      } else if (isFile && EXTENSIONS.has(path.extname(entry.name)) && !SKIPPED_FILE.test(entry.name)) {
        files.push(child);
      }
    }
  };
  await walk('');
  return files.sort(byCodeUnit);
}

/** The methods a definition answers. */
export function methodsOf(definition: AnyEndpointDefinition): EndpointMethod[] {
  const method = definition.config.method;
  return method === undefined ? ['POST'] : typeof method === 'string' ? [method] : [...method];
}

/** The definitions a module exports: default, named exports, and the elements of exported arrays, by export name. */
function definitionsOf(namespace: Record<string, unknown>, file: string, seen: Set<AnyEndpointDefinition>): Found[] {
  const found: Found[] = [];
  const take = (value: unknown, exportName: string): void => {
    // The same object exported twice (`export const list = ...; export default [list]`, or a re-export) counts once.
    if (!isEndpointDefinition(value) || seen.has(value)) return;
    seen.add(value);
    found.push({ definition: value, file, exportName, methods: methodsOf(value) });
  };
  for (const name of Object.keys(namespace).sort(byCodeUnit)) {
    const value = namespace[name];
    if (Array.isArray(value)) value.forEach((item: unknown, i) => take(item, `${name}[${i}]`));
    else take(value, name);
  }
  return found;
}

/** Refuse two definitions of one method and path, naming both places; and routes already registered. */
function checkDuplicates(found: readonly Found[], isTaken: (route: string) => boolean, verb: string): void {
  const first = new Map<string, Found>();
  for (const f of found) {
    for (const method of f.methods) {
      const route = `${method} ${f.definition.path}`;
      const earlier = first.get(route);
      if (earlier !== undefined) {
        throw new PortalError(`${verb}: ${route} is defined twice: in ${where(earlier)} and in ${where(f)}`, {
          code: 'ERR_ENDPOINT_DUPLICATE',
          details: { route, files: [earlier.file, f.file], exports: [earlier.exportName, f.exportName] },
        });
      }
      if (isTaken(route)) {
        throw new PortalError(`${verb}: ${route} from ${where(f)} is already registered on this portal`, {
          code: 'ERR_ENDPOINT_DUPLICATE',
          details: { route, files: [f.file], exports: [f.exportName] },
        });
      }
      first.set(route, f);
    }
  }
}

/**
 * Load every module under `dir` (recursively; `.js`, `.mjs`, `.ts`; not `.d.ts`, `*.test.*`, `*.spec.*` in any
 * letter case, dotfiles, `node_modules`, `__tests__`) in sorted order, collect the `defineEndpoint` values they export,
 * refuse duplicates and compile them all. Nothing is registered here: the portal mounts the result.
 * @param dir - the folder (relative to the working directory, or absolute)
 * @param deps - what endpoint compilation needs
 * @param isTaken - whether a `'<METHOD> <path>'` is already registered on the portal
 * @returns the compiled endpoints to mount and the list of routes, in registration order
 */
export async function discoverEndpoints(
  dir: string,
  deps: EndpointDeps,
  isTaken: (route: string) => boolean,
): Promise<{ mounts: DiscoveredMount[]; routes: DiscoveredEndpoint[] }> {
  if (typeof dir !== 'string' || dir === '')
    throw new PortalError('discover: dir must be a folder path', { code: 'ERR_DISCOVER_DIR' });
  const root = path.resolve(dir);
  const info = await stat(root).catch((err: unknown) => {
    throw new PortalError(`discover: no folder at ${root}`, { code: 'ERR_DISCOVER_DIR', cause: err });
  });
  if (!info.isDirectory()) throw new PortalError(`discover: ${root} is not a folder`, { code: 'ERR_DISCOVER_DIR' });

  const found: Found[] = [];
  const seen = new Set<AnyEndpointDefinition>();
  // One after another, in sorted order: a module's top-level side effects run in the same order every time.
  for (const file of await listModules(root)) {
    let namespace: Record<string, unknown>;
    try {
      namespace = (await import(pathToFileURL(path.join(root, file)).href)) as Record<string, unknown>;
    } catch (err) {
      throw new PortalError(
        `discover: cannot load ${file} (in ${root}): ${err instanceof Error ? err.message : String(err)}`,
        {
          code: 'ERR_DISCOVER_IMPORT',
          cause: err,
          details: { file: path.join(root, file) },
        },
      );
    }
    try {
      found.push(...definitionsOf(namespace, file, seen));
    } catch (err) {
      // Reading an export can run the module's code (a getter, a Proxy): what it throws names the file too.
      throw new PortalError(
        `discover: cannot read the exports of ${file} (in ${root}): ${err instanceof Error ? err.message : String(err)}`,
        { code: 'ERR_DISCOVER_IMPORT', cause: err, details: { file: path.join(root, file) } },
      );
    }
  }
  return compileFound(found, deps, isTaken, 'discover');
}

/**
 * Refuse duplicates among `found` and against the portal, then compile them all; nothing is registered here.
 * @param verb - names the caller in messages (`discover`, `register`)
 */
export function compileFound(
  found: readonly FoundDefinition[],
  deps: EndpointDeps,
  isTaken: (route: string) => boolean,
  verb: string,
): { mounts: DiscoveredMount[]; routes: DiscoveredEndpoint[] } {
  checkDuplicates(found, isTaken, verb);

  const mounts: DiscoveredMount[] = [];
  const routes: DiscoveredEndpoint[] = [];
  const batch = new Set<string>();
  for (const f of found) {
    const { path: route, config, handler } = f.definition;
    let endpoints: CompiledEndpoint[];
    try {
      endpoints = compileEndpoint(route, config, handler, deps, (r) => isTaken(r) || batch.has(r), f.key);
    } catch (err) {
      // The endpoint's own code (a gate's, the enforcer's) is kept: the message adds where it was defined.
      const code = err instanceof GatehouseError ? err.code : 'ERR_ENDPOINT_CONFIG';
      throw new GatehouseError(`${verb}: ${where(f)}: ${err instanceof Error ? err.message : String(err)}`, {
        code,
        cause: err,
        details: { file: f.file, export: f.exportName },
      });
    }
    for (const e of endpoints) {
      batch.add(e.route);
      routes.push({ method: e.method, path: route, file: f.file, exportName: f.exportName });
    }
    mounts.push({ path: route, endpoints });
  }
  return { mounts, routes };
}
