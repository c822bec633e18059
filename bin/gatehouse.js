#!/usr/bin/env node
// The gatehouse CLI. Uses the compiled dist/ when present, else runs the TypeScript sources through tsx.
// Argument parsing lives in src/cli.ts (node:util parseArgs); this file only loads it and sets the exit status.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dist = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
let cli;
try {
  if (existsSync(dist)) {
    cli = await import(pathToFileURL(dist).href);
  } else {
    const { register } = await import('tsx/esm/api');
    register();
    cli = await import('../src/cli.ts');
  }
} catch (err) {
  // src/runtime.ts, the CLI's first import, refuses an unsupported Node: say so in one line, not a stack trace.
  if (err?.code !== 'ERR_GATEHOUSE_NODE_VERSION') throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
}
process.exitCode = await cli.main(process.argv.slice(2));
