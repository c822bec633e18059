/**
 * Argument parsing shared by the CLI's subcommands: `node:util` `parseArgs` with the CLI's own short usage errors.
 */
import { parseArgs } from 'node:util';

/** One option a command accepts, in `parseArgs` terms. */
export interface CliOption {
  /** `'string'` takes a value (`--x v` or `--x=v`); `'boolean'` is a flag. */
  type: 'string' | 'boolean';
  /** One-letter alias, without the dash. */
  short?: string;
}

/** The values and positionals of a parsed command line. */
export interface CliArgs<T extends Record<string, CliOption>> {
  /** Each option given, by its long name; absent when not given. */
  values: { [K in keyof T]?: T[K]['type'] extends 'string' ? string : true };
  /** The non-option arguments, in order. */
  positionals: string[];
}

/**
 * Parse `argv` against `options`. Resolves to the parsed arguments, or to a one-line usage problem
 * (`unknown option --x`, `--x needs a value`, `--x does not take a value`) for the command to print with exit 2.
 * A string option takes the next argument as its value even when it starts with a dash (`--retry-after -5`), so
 * the command can say what is wrong with the value instead of calling it ambiguous.
 */
export function parseCliArgs<T extends Record<string, CliOption>>(
  argv: readonly string[],
  options: T,
): CliArgs<T> | string {
  // Not strict: parseArgs' strict errors are long and call dash-led values ambiguous; the checks below replace them.
  const { values, positionals, tokens } = parseArgs({
    args: [...argv],
    options,
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const option = Object.hasOwn(options, token.name) ? options[token.name] : undefined;
    if (option === undefined) return `unknown option ${token.rawName}`;
    if (option.type === 'string' && token.value === undefined) return `${token.rawName} needs a value`;
    if (option.type === 'boolean' && token.inlineValue === true) return `${token.rawName} does not take a value`;
  }
  return { values: values as CliArgs<T>['values'], positionals };
}

export interface CliIO {
  /** Write a line (or lines) to standard output. */
  out(text: string): void;
  /** Write a line (or lines) to standard error. */
  err(text: string): void;
}

/**
 * Parse a subcommand's arguments: the parsed arguments, or the exit status when the command is done already
 * (`--help` printed `usage`: 0; a usage problem handed to `usageError`, which prints it: its status).
 */
export function parseCommand<T extends Record<string, CliOption>>(
  argv: readonly string[],
  options: T,
  io: CliIO,
  usage: string,
  usageError: (message: string) => number,
): CliArgs<T> | number {
  const parsed = parseCliArgs(argv, options);
  if (typeof parsed === 'string') return usageError(parsed);
  if ((parsed.values as { help?: true }).help) {
    io.out(usage);
    return 0;
  }
  return parsed;
}
