import { parseCommand, type CliIO } from '../cli-args.js';
import { checkProject, formatProblem } from './check.js';
import { EnforcementError } from './errors.js';

/** Help text of `gatehouse check`. */
export const CHECK_USAGE = `Usage: gatehouse check [dir] [--json]

Statically checks the exported functions, classes and methods of the TypeScript sources in [dir]
(default: the current directory): JSDoc summary, explicit parameter and return types, at most 8 parameters.
Uses dir/tsconfig.json when present, else every .ts/.tsx under dir (not node_modules, dist, *.d.ts).
Parses with the project's TypeScript (5.x, 6.x or 7.x); GATEHOUSE_TYPESCRIPT=<package> picks another
installed one by name (e.g. an npm alias such as typescript7).

Prints "path:line:col rule message" per problem (paths relative to the current directory).
  --json      print the problems as a JSON array of { file, line, column, rule, message }
  -h, --help  show this help

Exit status: 0 when clean, 1 when there are problems, 2 on a usage or setup error.`;

/**
 * Run `gatehouse check [dir] [--json]` and return the exit status (0 clean, 1 problems, 2 usage error).
 */
export async function runCheckCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const options = { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const;
  const parsed = parseCommand(argv, options, io, CHECK_USAGE, (message) => usageError(io, message));
  if (typeof parsed === 'number') return parsed;
  const json = parsed.values.json === true;
  const dirs = parsed.positionals;
  if (dirs.length > 1) return usageError(io, `expected at most one directory, got ${dirs.length}`);
  const dir = dirs[0] ?? '.';
  let result;
  try {
    const typescript = process.env.GATEHOUSE_TYPESCRIPT?.trim() || undefined;
    result = await checkProject(dir, { typescript });
  } catch (err) {
    if (err instanceof EnforcementError) {
      io.err(`gatehouse check: ${err.message}`);
      return 2;
    }
    throw err;
  }
  const { problems, filesChecked } = result;
  if (json) io.out(JSON.stringify(problems, null, 2));
  else if (problems.length === 0)
    io.out(`gatehouse check: no problems (${filesChecked} file${filesChecked === 1 ? '' : 's'})`);
  else {
    io.out(problems.map(formatProblem).join('\n'));
    const files = new Set(problems.map((p) => p.file)).size;
    io.err(
      `gatehouse check: ${problems.length} problem${problems.length === 1 ? '' : 's'} in ${files} file${files === 1 ? '' : 's'}`,
    );
  }
  return problems.length === 0 ? 0 : 1;
}

function usageError(io: CliIO, message: string): number {
  io.err(`gatehouse check: ${message}\n\n${CHECK_USAGE}`);
  return 2;
}
