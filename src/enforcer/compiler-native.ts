/**
 * TypeScript 7 (the native compiler) for `gatehouse check`. TypeScript 7's package has no classic API (its main
 * entry exports only `version`); it offers `typescript/unstable/sync`, a client that runs the compiler in a child
 * process and hands back real syntax trees, and `typescript/unstable/ast`, the node tests over those trees. The
 * checked files are opened as one in-memory project (`files` = the list, no lib, no import resolution), so only
 * they are parsed. "unstable" is TypeScript's word: a 7.x that moves a function the check needs is refused in one
 * line naming what is missing, never walked wrongly.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type TS from 'typescript';
import { checkSetupError, syntaxOf, type Compiler, type FoundTypeScript } from './compiler-api.js';

/** The part of `typescript/unstable/sync` used here. */
interface NativeSync {
  API: new (options: { cwd?: string; fs?: NativeFileSystem }) => NativeApi;
}
/** Virtual file system callbacks: `undefined` falls back to the real file system. */
interface NativeFileSystem {
  readFile?: (fileName: string) => string | null | undefined;
  fileExists?: (fileName: string) => boolean | undefined;
}
interface NativeApi {
  parseConfigFile(file: string): { fileNames: string[] };
  updateSnapshot(params: { openProjects: string[] }): NativeSnapshot;
  close(): void;
}
interface NativeSnapshot {
  getProject(
    configFileName: string,
  ): { program: { getSourceFile(file: string): TS.SourceFile | undefined } } | undefined;
  dispose(): void;
}
type NodeWithDocs = TS.Node & { readonly jsDoc?: readonly TS.JSDoc[] };

/**
 * Load a TypeScript 7 package and start its compiler.
 * @param found - where it is
 * @param cwd - the checked directory
 */
export async function nativeCompiler(found: FoundTypeScript, cwd: string): Promise<Compiler> {
  const load = async (subpath: string): Promise<Record<string, unknown>> =>
    (await import(pathToFileURL(found.resolve(subpath)).href)) as Record<string, unknown>;
  const [sync, ast] = await Promise.all([load('/unstable/sync'), load('/unstable/ast')]);
  const { API } = sync as unknown as NativeSync;
  if (typeof API !== 'function')
    throw checkSetupError(`TypeScript ${found.version} lacks unstable/sync API, which gatehouse check needs`);
  const syntax = syntaxOf(ast, found.version, (node) => nativeDocs(syntax, node));

  // The project of checked files lives only here, served through the compiler's file system callbacks.
  const projectFile = path.join(cwd, `.gatehouse-check-${process.pid}.tsconfig.json`);
  let projectText = '';
  const api = new API({
    cwd,
    fs: {
      readFile: (f) => (f === projectFile ? projectText : undefined),
      fileExists: (f) => (f === projectFile ? true : undefined),
    },
  });
  let closed = false;
  return {
    version: found.version,
    syntax,
    configFiles(configPath) {
      const problem = jsoncProblem(readFileSync(configPath, 'utf8'));
      if (problem !== undefined) throw checkSetupError(`cannot read ${configPath}: ${problem}`);
      return api.parseConfigFile(configPath).fileNames.map((f) => path.resolve(f));
    },
    parse(files, each) {
      projectText = JSON.stringify({ files, compilerOptions: { noLib: true, noResolve: true, types: [] } });
      const snapshot = api.updateSnapshot({ openProjects: [projectFile] });
      try {
        const program = snapshot.getProject(projectFile)?.program;
        for (const file of files) {
          const source = program?.getSourceFile(file);
          if (source === undefined) throw checkSetupError(`TypeScript ${found.version} did not parse ${file}`);
          each(file, source);
        }
      } finally {
        snapshot.dispose();
      }
    },
    close() {
      if (closed) return;
      closed = true;
      api.close();
    },
  };
}

/**
 * The JSDoc blocks documenting `node`, as the classic `ts.getJSDocCommentsAndTags` keeps them: the last block
 * before the node; for a variable, also the last block of its initializer and, when it is the statement's only
 * variable, of the statement.
 */
function nativeDocs(ts: { isVariableDeclaration(n: TS.Node): n is TS.VariableDeclaration }, node: TS.Node): TS.JSDoc[] {
  const out: TS.JSDoc[] = [];
  const lastOf = (n: TS.Node | undefined): void => {
    const docs = (n as NodeWithDocs | undefined)?.jsDoc;
    const last = docs?.[docs.length - 1];
    if (last !== undefined) out.push(last);
  };
  if (ts.isVariableDeclaration(node)) {
    lastOf(node.initializer);
    lastOf(node);
    const list = node.parent as TS.VariableDeclarationList;
    if (list.declarations.length === 1) lastOf(list.parent);
  } else lastOf(node);
  return out;
}

/**
 * Why a tsconfig.json text is not JSON with comments and trailing commas, or `undefined` when it is. (TypeScript
 * 7's API reads a broken tsconfig.json as empty without saying so; TypeScript 5/6 report it.)
 */
export function jsoncProblem(text: string): string | undefined {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      const end = /"(?:[^"\\\n]|\\.)*"/y;
      end.lastIndex = i;
      if (!end.test(text)) return 'unterminated string';
      out += text.slice(i, end.lastIndex);
      i = end.lastIndex - 1;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const close = text.indexOf('*/', i + 2);
      if (close === -1) return 'unterminated comment';
      i = close + 1;
    } else if (c === '}' || c === ']') {
      out = out.replace(/,\s*$/, '') + c;
    } else out += c;
  }
  if (out.trim() === '') return undefined;
  try {
    JSON.parse(out);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
