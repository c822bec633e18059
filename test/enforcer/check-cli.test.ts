import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { formatProblem } from '../../src/enforcer/check.js';
import { checkProject, SUPPORTED_TYPESCRIPT } from '../../src/enforcer/internal.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'gatehouse.js');
const FIXTURES = 'test/enforcer/fixtures';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the real CLI as a child process (`typescript`: the package GATEHOUSE_TYPESCRIPT names). */
function gatehouse(args: string[], cwd = ROOT, typescript?: string): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.GATEHOUSE_TYPESCRIPT;
  if (typescript !== undefined) env.GATEHOUSE_TYPESCRIPT = typescript;
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, timeout: 45_000, env }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const VIOLATIONS = [
  "test/enforcer/fixtures/violations/a.ts:4:17 missing-jsdoc exported function 'noDoc' has no JSDoc summary",
  "test/enforcer/fixtures/violations/a.ts:9:17 missing-return-type function 'untyped' has no explicit return type",
  "test/enforcer/fixtures/violations/a.ts:9:25 untyped-param parameter 'a' of function 'untyped' has no explicit type",
  "test/enforcer/fixtures/violations/a.ts:14:17 too-many-params function 'many' declares 9 parameters (at most 8)",
  "test/enforcer/fixtures/violations/a.ts:23:14 missing-return-type function 'arrow' has no explicit return type",
  "test/enforcer/fixtures/violations/a.ts:23:23 untyped-param parameter 'x' of function 'arrow' has no explicit type",
  "test/enforcer/fixtures/violations/a.ts:25:14 missing-jsdoc exported function 'undocumentedArrow' has no JSDoc summary",
  "test/enforcer/fixtures/violations/a.ts:33:7 missing-jsdoc exported function 'later' has no JSDoc summary",
  "test/enforcer/fixtures/violations/a.ts:44:42 untyped-param parameter '{ verbose }' of function 'withDefault' has no explicit type",
  "test/enforcer/fixtures/violations/a.ts:44:72 untyped-param parameter 'fallback' of function 'withDefault' has no explicit type",
  "test/enforcer/fixtures/violations/classes.ts:6:15 untyped-param parameter 'name' of constructor of 'Service' has no explicit type",
  "test/enforcer/fixtures/violations/classes.ts:11:3 missing-jsdoc public method 'Service.stop' has no JSDoc summary",
  "test/enforcer/fixtures/violations/classes.ts:11:3 missing-return-type method 'Service.stop' has no explicit return type",
  "test/enforcer/fixtures/violations/classes.ts:20:17 untyped-param parameter 'opts' of method 'Service.create' has no explicit type",
  "test/enforcer/fixtures/violations/classes.ts:25:14 missing-jsdoc exported class 'Bare' has no JSDoc summary",
  "test/enforcer/fixtures/violations/classes.ts:31:1 missing-jsdoc exported function 'default' has no JSDoc summary",
  "test/enforcer/fixtures/violations/classes.ts:31:1 missing-return-type function 'default' has no explicit return type",
  "test/enforcer/fixtures/violations/nested/deep.ts:4:14 missing-jsdoc exported function 'handler' has no JSDoc summary",
  "test/enforcer/fixtures/violations/nested/deep.ts:4:34 untyped-param parameter 'req' of function 'handler' has no explicit type",
  "test/enforcer/fixtures/violations/nested/deep.ts:4:39 untyped-param parameter 'res' of function 'handler' has no explicit type",
];

// Each case starts the CLI (and the TypeScript compiler) in a child process: slow on a loaded two-core machine.
describe('gatehouse check (CLI)', { timeout: 90_000 }, () => {
  it('lists every violation of a project, sorted, as path:line:col rule message, and exits 1', async () => {
    const run = await gatehouse(['check', `${FIXTURES}/violations`]);
    expect(run.stdout).toBe(`${VIOLATIONS.join('\n')}\n`);
    expect(run.stderr).toBe('gatehouse check: 20 problems in 3 files\n');
    expect(run.code).toBe(1);
    // node_modules, dist and .d.ts files hold violations too, and are skipped.
    expect(readFileSync(path.join(ROOT, FIXTURES, 'violations/node_modules/pkg/index.ts'), 'utf8')).toContain(
      'export function bad(x)',
    );
    expect(run.stdout).not.toMatch(/node_modules|dist\/|types\.d\.ts/);
  });

  it('prints the same findings as a JSON array with --json', async () => {
    const run = await gatehouse(['check', '--json', `${FIXTURES}/violations`]);
    expect(run.code).toBe(1);
    const problems = JSON.parse(run.stdout) as Array<Record<string, unknown>>;
    expect(problems).toHaveLength(VIOLATIONS.length);
    expect(problems[0]).toEqual({
      file: 'test/enforcer/fixtures/violations/a.ts',
      line: 4,
      column: 17,
      rule: 'missing-jsdoc',
      message: "exported function 'noDoc' has no JSDoc summary",
    });
    expect(problems.map((p) => `${p.file}:${p.line}:${p.column} ${p.rule} ${p.message}`)).toEqual(VIOLATIONS);
  });

  it('uses the tsconfig.json in the directory to pick files', async () => {
    const run = await gatehouse(['check', `${FIXTURES}/with-tsconfig`]);
    expect(run.stdout).toBe(
      "test/enforcer/fixtures/with-tsconfig/src/index.ts:4:17 missing-jsdoc exported function 'api' has no JSDoc summary\n" +
        "test/enforcer/fixtures/with-tsconfig/src/index.ts:4:17 missing-return-type function 'api' has no explicit return type\n",
    );
    expect(run.code).toBe(1);
    // scripts/tool.ts has an undocumented, untyped export but is outside the tsconfig's include.
    expect(readFileSync(path.join(ROOT, FIXTURES, 'with-tsconfig/scripts/tool.ts'), 'utf8')).toContain(
      'export function tool(x)',
    );
  });

  it('exits 0 with a short line on a clean project (and [] with --json)', async () => {
    const run = await gatehouse(['check', `${FIXTURES}/clean`]);
    expect(run).toEqual({ code: 0, stdout: 'gatehouse check: no problems (2 files)\n', stderr: '' });
    const json = await gatehouse(['check', `${FIXTURES}/clean`, '--json']);
    expect(json).toEqual({ code: 0, stdout: '[]\n', stderr: '' });
  });

  it('prints paths relative to the current directory', async () => {
    const run = await gatehouse(['check', 'nested'], path.join(ROOT, FIXTURES, 'violations'));
    expect(run.stdout.split('\n')[0]).toBe(
      "nested/deep.ts:4:14 missing-jsdoc exported function 'handler' has no JSDoc summary",
    );
    expect(run.code).toBe(1);
  });

  it('exits 2 on usage errors and prints help', async () => {
    const missing = await gatehouse(['check', 'no/such/dir']);
    expect(missing).toEqual({
      code: 2,
      stdout: '',
      stderr: 'gatehouse check: no such file or directory: no/such/dir\n',
    });
    const badFlag = await gatehouse(['check', '--bogus']);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toMatch(
      /^gatehouse check: unknown option --bogus\n\nUsage: gatehouse check \[dir\] \[--json\]/,
    );
    const unknown = await gatehouse(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^gatehouse: unknown command 'frobnicate'\n\nUsage: gatehouse <command>/);
    const help = await gatehouse(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: gatehouse <command> \[options\]\n\nCommands:\n/);
    expect(help.stdout).toMatch(/^ {2}check +statically check exported functions/m);
  });
});

describe('checkProject', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('checks a single file, follows local export lists and skips type-annotated consts and private members', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-check-'));
    const file = path.join(dir, 'api.ts');
    writeFileSync(
      file,
      [
        'function hidden(a) { return a; }', // 1: not exported
        'function shown(a: number) { return a; }', // 2: exported below as `renamed`
        'export { shown as renamed };',
        '/** Typed by its annotation. */',
        'export const typed: (a: number) => number = (a) => a;', // 5: clean
        '/** A class. */',
        'export class K {',
        '  private p(a) {}', // 8: private, skipped
        '  /** Ten. */',
        '  m(a: 1, b: 1, c: 1, d: 1, e: 1, f: 1, g: 1, h: 1, i: 1, j: 1): void {}', // 10: too many
        '}',
      ].join('\n'),
    );
    const { problems, filesChecked } = await checkProject(file, { cwd: dir });
    expect(filesChecked).toBe(1);
    expect(problems.map(formatProblem)).toEqual([
      "api.ts:2:10 missing-jsdoc exported function 'shown' has no JSDoc summary",
      "api.ts:2:10 missing-return-type function 'shown' has no explicit return type",
      "api.ts:10:3 too-many-params method 'K.m' declares 10 parameters (at most 8)",
    ]);
  });
});

/** The TypeScript packages installed as devDependencies (npm aliases), by the major they hold. */
const COMPILERS = [
  { name: 'typescript', major: 5 }, // the repository's own compiler (5.9)
  { name: 'typescript5', major: 5 }, // the floor of the peer range (5.0.4)
  { name: 'typescript6', major: 6 },
  { name: 'typescript7', major: 7 }, // the native compiler: its unstable/sync and unstable/ast API
] as const;

describe('checkProject on every supported TypeScript', { timeout: 60_000 }, () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  for (const { name, major } of COMPILERS) {
    it(`${name}: finds the same violations, from the directory and from a tsconfig.json`, async () => {
      const run = await checkProject(`${FIXTURES}/violations`, { cwd: ROOT, typescript: name });
      expect(Number.parseInt(run.typescriptVersion, 10)).toBe(major);
      expect(run.filesChecked).toBe(3);
      expect(run.problems.map(formatProblem)).toEqual(VIOLATIONS);
      const configured = await checkProject(`${FIXTURES}/with-tsconfig`, { cwd: ROOT, typescript: name });
      expect(configured.filesChecked).toBe(1);
      expect(configured.problems.map((p) => `${p.line}:${p.column} ${p.rule}`)).toEqual([
        '4:17 missing-jsdoc',
        '4:17 missing-return-type',
      ]);
      const clean = await checkProject(`${FIXTURES}/clean`, { cwd: ROOT, typescript: name });
      expect(clean).toEqual({ problems: [], filesChecked: 2, typescriptVersion: run.typescriptVersion });
    });

    it(`${name}: refuses a tsconfig.json that does not parse, naming it`, async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-check-'));
      writeFileSync(path.join(dir, 'tsconfig.json'), '{ "compilerOptions": { "strict": tru } }');
      writeFileSync(path.join(dir, 'a.ts'), 'export function a(x) { return x; }\n');
      const err = await checkProject(dir, { cwd: dir, typescript: name }).then(
        () => undefined,
        (e: unknown) => e as { code?: string; message?: string },
      );
      expect(err?.code).toBe('ERR_ENFORCE_CONFIG');
      expect(err?.message).toMatch(
        new RegExp(`^cannot read ${path.join(dir, 'tsconfig.json').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `),
      );
      // A tsconfig with comments and trailing commas is fine.
      writeFileSync(
        path.join(dir, 'tsconfig.json'),
        '{\n  // options\n  "compilerOptions": { "strict": true, /* on */ },\n  "include": ["*.ts",],\n}\n',
      );
      const ok = await checkProject(dir, { cwd: dir, typescript: name });
      expect(ok.problems.map(formatProblem)).toEqual([
        "a.ts:1:17 missing-jsdoc exported function 'a' has no JSDoc summary",
        "a.ts:1:17 missing-return-type function 'a' has no explicit return type",
        "a.ts:1:19 untyped-param parameter 'x' of function 'a' has no explicit type",
      ]);
    });
  }
});

describe('gatehouse check and the installed TypeScript', { timeout: 90_000 }, () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('runs on TypeScript 7 (GATEHOUSE_TYPESCRIPT) with the same output as on TypeScript 5', async () => {
    const run = await gatehouse(['check', `${FIXTURES}/violations`], ROOT, 'typescript7');
    expect(run.stdout).toBe(`${VIOLATIONS.join('\n')}\n`);
    expect(run.stderr).toBe('gatehouse check: 20 problems in 3 files\n');
    expect(run.code).toBe(1);
  });

  it('refuses an unsupported TypeScript in one line naming its version and the supported range', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-check-'));
    writeFileSync(path.join(dir, 'a.ts'), 'export const a = 1;\n');
    for (const version of ['4.9.5', '8.0.0']) {
      // The package is refused from its package.json: its code (which would throw) is never loaded.
      const pkg = path.join(dir, 'node_modules', 'typescript');
      mkdirSync(pkg, { recursive: true });
      writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'typescript', version, main: 'index.js' }));
      writeFileSync(path.join(pkg, 'index.js'), "throw new Error('loaded');\n");
      const run = await gatehouse(['check', '.'], dir);
      expect(run).toEqual({
        code: 2,
        stdout: '',
        stderr: `gatehouse check: TypeScript ${version} (node_modules/typescript) is not supported; gatehouse check works with ${SUPPORTED_TYPESCRIPT}\n`,
      });
    }
  });

  it('says which package is missing when GATEHOUSE_TYPESCRIPT names one that is not installed', async () => {
    const run = await gatehouse(['check', `${FIXTURES}/clean`], ROOT, 'typescript-nope');
    expect(run).toEqual({
      code: 2,
      stdout: '',
      stderr: "gatehouse check: the package 'typescript-nope' (GATEHOUSE_TYPESCRIPT) is not installed\n",
    });
  });

  it('declares exactly the supported majors as the typescript peer range, and tests each of them', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      peerDependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    expect(pkg.peerDependencies.typescript).toBe(SUPPORTED_TYPESCRIPT);
    const majors = SUPPORTED_TYPESCRIPT.split(' || ').map((r) => Number(/^\^(\d+)\.0\.0$/.exec(r)?.[1]));
    expect(majors).toEqual([5, 6, 7]);
    for (const { name, major } of COMPILERS) {
      const installed = JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
        version: string;
      };
      expect(Number.parseInt(installed.version, 10), name).toBe(major);
    }
    // The floor of the range is what typescript5 pins.
    expect(pkg.devDependencies.typescript5).toBe('npm:typescript@5.0.4');
  });
});
