/**
 * TypeScript 5 and 6 for `gatehouse check`: the classic compiler API (`ts.readConfigFile`, `ts.createSourceFile`),
 * parsing each file on its own (the checks are syntactic, so no program is built).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type TS from 'typescript';
import { checkSetupError, syntaxOf, type Compiler, type FoundTypeScript } from './compiler-api.js';

/**
 * Load a TypeScript 5/6 package.
 * @param found - where it is
 */
export async function classicCompiler(found: FoundTypeScript): Promise<Compiler> {
  const mod = (await import(pathToFileURL(found.resolve('')).href)) as {
    default?: typeof TS;
  } & typeof TS;
  const ts = mod.default ?? mod;
  if (typeof ts.readConfigFile !== 'function' || typeof ts.createSourceFile !== 'function')
    throw checkSetupError(
      `TypeScript ${found.version} lacks readConfigFile or createSourceFile, which gatehouse check needs`,
    );
  const syntax = syntaxOf(ts as unknown as Record<string, unknown>, found.version, (node) =>
    ts.getJSDocCommentsAndTags(node).filter((doc): doc is TS.JSDoc => ts.isJSDoc(doc)),
  );
  return {
    version: found.version,
    syntax,
    configFiles(configPath) {
      const read = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
      if (read.error) {
        throw checkSetupError(
          `cannot read ${configPath}: ${ts.flattenDiagnosticMessageText(read.error.messageText, '\n')}`,
        );
      }
      const parsed = ts.parseJsonConfigFileContent(
        read.config,
        ts.sys,
        path.dirname(configPath),
        undefined,
        configPath,
      );
      return parsed.fileNames.map((f) => path.resolve(f));
    },
    parse(files, each) {
      for (const file of files) {
        const kind = file.endsWith('x') ? ts.ScriptKind.TSX : ts.ScriptKind.TS;
        each(file, ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true, kind));
      }
    },
    close() {},
  };
}
