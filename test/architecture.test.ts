import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../src');
const IMPORT = /^\s*(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'|^\s*import\s+'(\.[^']+)'/gm;

/** Every .ts module under src (tests beside code excluded) with the project modules it imports. */
function moduleGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
        const text = fs.readFileSync(full, 'utf8');
        const deps: string[] = [];
        for (const m of text.matchAll(IMPORT)) {
          const spec = m[1] ?? m[2];
          // `import type` edges vanish at run time but still tangle the design, so they count too.
          if (spec) deps.push(path.resolve(path.dirname(full), spec.replace(/\.js$/, '.ts')));
        }
        graph.set(full, deps);
      }
    }
  };
  walk(SRC);
  return graph;
}

/** Top-level capability of a module: its first folder under src, or undefined for a root module (errors, logger, ...). */
function capabilityOf(file: string): string | undefined {
  const rel = path.relative(SRC, file).split(path.sep);
  return rel.length > 1 ? rel[0] : undefined;
}

describe('architecture', () => {
  const graph = moduleGraph();

  it('resolves every relative import to a module under src', () => {
    const missing = [...graph].flatMap(([file, deps]) =>
      deps.filter((d) => !graph.has(d)).map((d) => `${path.relative(SRC, file)} -> ${path.relative(SRC, d)}`),
    );
    expect(missing).toEqual([]);
  });

  it('has no import cycles', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (file: string): void => {
      state.set(file, 'open');
      stack.push(file);
      for (const dep of graph.get(file) ?? []) {
        if (state.get(dep) === 'open')
          cycles.push([...stack.slice(stack.indexOf(dep)), dep].map((f) => path.relative(SRC, f)).join(' -> '));
        else if (!state.has(dep) && graph.has(dep)) visit(dep);
      }
      stack.pop();
      state.set(file, 'done');
    };
    for (const file of graph.keys()) if (!state.has(file)) visit(file);
    expect(cycles).toEqual([]);
  });

  it('lets a capability reach another only through its index.ts (public) or internal.ts', () => {
    const reaches = [...graph].flatMap(([file, deps]) => {
      const own = capabilityOf(file);
      return deps
        .filter((dep) => {
          const other = capabilityOf(dep);
          const entry = path.relative(path.join(SRC, other ?? ''), dep);
          return other !== undefined && other !== own && entry !== 'index.ts' && entry !== 'internal.ts';
        })
        .map((dep) => `${path.relative(SRC, file)} -> ${path.relative(SRC, dep)}`);
    });
    expect(reaches).toEqual([]);
  });

  it('keeps root modules free of capability imports', () => {
    const root = [...graph].filter(
      ([file]) =>
        capabilityOf(file) === undefined && path.basename(file) !== 'index.ts' && path.basename(file) !== 'cli.ts',
    );
    const bad = root.flatMap(([file, deps]) =>
      deps
        .filter((d) => capabilityOf(d) !== undefined)
        .map((d) => `${path.relative(SRC, file)} -> ${path.relative(SRC, d)}`),
    );
    expect(bad).toEqual([]);
  });

  it('keeps the portal on top: only the control plane (built on a portal) imports the servers capability', () => {
    const above = new Set(['servers', 'control-plane']);
    const bad = [...graph].flatMap(([file, deps]) => {
      const own = capabilityOf(file);
      if (own === undefined || above.has(own)) return [];
      return deps
        .filter((d) => capabilityOf(d) === 'servers')
        .map((d) => `${path.relative(SRC, file)} -> ${path.relative(SRC, d)}`);
    });
    expect(bad).toEqual([]);
  });
});
