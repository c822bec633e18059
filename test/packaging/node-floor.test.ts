import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RUNTIME_TS = path.join(ROOT, 'src', 'runtime.ts');
// The machine's own Node (20 on this machine kind), older than the floor: the case the check exists for.
const OLD_NODE = '/usr/bin/node';

function majorOf(node: string): number | undefined {
  if (!existsSync(node)) return undefined;
  try {
    return Number(execFileSync(node, ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' }).trim());
  } catch {
    return undefined;
  }
}

const oldMajor = majorOf(OLD_NODE);
const haveOldNode = oldMajor !== undefined && oldMajor < 22;
if (!haveOldNode) {
  // Visible on purpose: without an old Node the refusal itself goes untested.
  console.warn(
    `[packaging] SKIPPING the Node-floor refusal test: ${OLD_NODE} is ${oldMajor === undefined ? 'missing' : `Node ${oldMajor}`}, not older than 22`,
  );
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(node: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      node,
      args,
      { cwd: ROOT, timeout: 30_000, env: { ...process.env, NO_COLOR: '1' } },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
      },
    );
  });
}

// src/runtime.ts compiled to plain JavaScript, the way dist/runtime.js is, so Node 20 can load it.
const tmp = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-floor-'));
const compiled = path.join(tmp, 'runtime.mjs');
writeFileSync(
  compiled,
  ts.transpileModule(readFileSync(RUNTIME_TS, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText,
);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('Node version floor (src/runtime.ts)', () => {
  it('imports nothing, so its check runs before any other module or native package loads', () => {
    const source = ts.createSourceFile(RUNTIME_TS, readFileSync(RUNTIME_TS, 'utf8'), ts.ScriptTarget.ES2022);
    const imports = source.statements.filter(
      (s) =>
        ts.isImportDeclaration(s) ||
        ts.isImportEqualsDeclaration(s) ||
        (ts.isExportDeclaration(s) && s.moduleSpecifier !== undefined),
    );
    expect(imports.map((s) => s.getText(source))).toEqual([]);
    expect(source.text).not.toMatch(/\brequire\(|\bimport\(/);
  });

  it('loads quietly on the running Node', async () => {
    expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(22);
    const ok = await run(process.execPath, [compiled]);
    expect(ok).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it.skipIf(!haveOldNode)('refuses an older Node at import with an error naming the required version', async () => {
    const version = execFileSync(OLD_NODE, ['--version'], { encoding: 'utf8' }).trim();
    const refused = await run(OLD_NODE, [
      '--input-type=module',
      '-e',
      `import ${JSON.stringify(new URL(`file://${compiled}`).href)};`,
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain(`Error: gatehouse needs Node.js 22 or newer; this is ${version}`);
    expect(refused.stderr).toContain("code: 'ERR_GATEHOUSE_NODE_VERSION'");
  });

  it.skipIf(!haveOldNode)('makes the gatehouse CLI print that one line and exit 1 on an older Node', async () => {
    const version = execFileSync(OLD_NODE, ['--version'], { encoding: 'utf8' }).trim();
    const refused = await run(OLD_NODE, [
      path.join(ROOT, 'bin', 'gatehouse.js'),
      'lifecycle',
      'status',
      '--data-dir',
      tmp,
    ]);
    expect(refused).toEqual({
      code: 1,
      stdout: '',
      stderr: `gatehouse needs Node.js 22 or newer; this is ${version}\n`,
    });
    // Refused before the lifecycle store (and better-sqlite3) loaded: nothing was created.
    expect(existsSync(path.join(tmp, 'gatehouse-lifecycle.db'))).toBe(false);
  });
});
