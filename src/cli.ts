/**
 * The `gatehouse` command line: a table of subcommands. Adding one is one line in `COMMANDS`.
 */
import './runtime.js';
import { parseArgs } from 'node:util';
import type { CliIO } from './cli-args.js';
import { runLifecycleCommand } from './lifecycle/internal.js';

/** One subcommand of the CLI. */
export interface CliCommand {
  /** One-line summary shown in `gatehouse help`. */
  summary: string;
  /** Run with the arguments after the command name; resolves to the exit status. */
  run(argv: readonly string[], io: CliIO): Promise<number>;
}

/** The subcommands, by name. */
export const COMMANDS: Readonly<Record<string, CliCommand>> = {
  check: {
    summary: 'statically check exported functions for JSDoc, explicit types and parameter count',
    run: async (argv, io) => (await import('./enforcer/internal.js')).runCheckCommand(argv, io),
  },
  'control-plane': {
    summary:
      'run a PXControl-compatible control plane, or add a project / set its status (project add NAME | project status NAME STATE)',
    run: async (argv, io) => (await import('./control-plane/internal.js')).runControlPlaneCommand(argv, io),
  },
  lifecycle: {
    summary:
      'show or set the shared lifecycle state (status | set STATE [--message ..] [--retry-after ..] --data-dir DIR | --file PATH | --redis URL)',
    run: runLifecycleCommand,
  },
};

const STDIO: CliIO = {
  out: (text) => void process.stdout.write(`${text}\n`),
  err: (text) => void process.stderr.write(`${text}\n`),
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, cmd]) => `  ${name.padEnd(width)}  ${cmd.summary}`);
  return `Usage: gatehouse <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun "gatehouse <command> --help" for a command's options.`;
}

/**
 * Run the CLI with `argv` (the arguments after the program name) and resolve to the exit status.
 *
 * @example
 * ```ts
 * process.exitCode = await main(process.argv.slice(2));
 * ```
 */
export async function main(argv: readonly string[], io: CliIO = STDIO): Promise<number> {
  // Only the options before the command name are ours; everything from the command on belongs to it. Not strict,
  // so a subcommand's options never trip this parser; unknown ones before the command are reported below.
  const { tokens } = parseArgs({
    args: [...argv],
    options: { help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  let help = false;
  let start = argv.length;
  for (const token of tokens) {
    if (token.kind === 'positional' || token.kind === 'option-terminator') {
      start = token.kind === 'positional' ? token.index : token.index + 1;
      break;
    }
    if (token.name !== 'help' || token.inlineValue === true) {
      io.err(`gatehouse: unknown option ${token.rawName}\n\n${usage()}`);
      return 2;
    }
    help = true;
  }
  const [name, ...rest] = argv.slice(start);
  if (help || name === 'help') {
    io.out(usage());
    return 0;
  }
  if (name === undefined) {
    io.out(usage());
    return 2;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    io.err(`gatehouse: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  return command.run(rest, io);
}
