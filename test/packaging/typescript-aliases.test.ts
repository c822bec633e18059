import { readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('the TypeScript aliases among the devDependencies', () => {
  it('leave `tsc` (typecheck, build) to the repository compiler, not to an alias installed for gatehouse check tests', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    const aliases = Object.entries(pkg.devDependencies).filter(([, spec]) => spec.startsWith('npm:typescript@'));
    expect(aliases.map(([name]) => name)).toEqual(['typescript5', 'typescript6', 'typescript7']);
    // Every alias ships a `tsc` bin too; an incremental `npm install` can link it over the real one (run `npm ci`).
    for (const bin of ['tsc', 'tsserver']) {
      const target = realpathSync(path.join(ROOT, 'node_modules', '.bin', bin));
      expect(path.relative(path.join(ROOT, 'node_modules'), target).split(path.sep)[0], `${bin} -> ${target}`).toBe(
        'typescript',
      );
    }
    const version = (
      JSON.parse(readFileSync(path.join(ROOT, 'node_modules/typescript/package.json'), 'utf8')) as {
        version: string;
      }
    ).version;
    expect(version.startsWith(`${pkg.devDependencies.typescript}.`)).toBe(true);
  });
});
