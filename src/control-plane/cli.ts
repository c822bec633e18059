import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseCommand, type CliIO, type CliOption } from '../cli-args.js';
import { LIFECYCLE_STATES, isLifecycleState } from '../lifecycle/index.js';
import { createLogger } from '../logger.js';
import { ControlPlane } from './control-plane.js';
import { ControlPlaneError } from './errors.js';
import { newProjectToken } from './tokens.js';

/** Where the CLI keeps the generated admin token when `GATEHOUSE_CONTROL_TOKEN` is not set. */
export const ADMIN_TOKEN_FILE = 'control-admin-token';

const USAGE = `Usage:
  gatehouse control-plane [--port 4000] [--host 127.0.0.1] [--data-dir ./control | --redis URL [--key-prefix P]]
  gatehouse control-plane project add NAME [--fail-mode closed|open] [--json] [--data-dir DIR | --redis URL [--key-prefix P]]
  gatehouse control-plane project status NAME STATE [--message TEXT] [--retry-after SECONDS] [--json] [--data-dir DIR | --redis URL [--key-prefix P]]
  gatehouse control-plane project list [--json] [--data-dir DIR | --redis URL [--key-prefix P]]

Runs a PXControl-compatible control plane: the dashboard at /, the admin API under /api/admin, the protocol at
/ws/{token}, /api/v1/status/{token} and /api/v1/sdk/versions. The admin token is GATEHOUSE_CONTROL_TOKEN, or one
generated once into <data-dir>/${ADMIN_TOKEN_FILE} (mode 0600). "project add" prints the project's token once.
STATE is one of ${LIFECYCLE_STATES.join(', ')}. Project commands write the store directly: a control plane running
on the same data dir (or Redis and key prefix, default gatehouse:control:) pushes the change to its instances
within a second.`;

const OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  'data-dir': { type: 'string' },
  redis: { type: 'string' },
  'key-prefix': { type: 'string' },
  'fail-mode': { type: 'string' },
  message: { type: 'string' },
  'retry-after': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Record<string, CliOption>;

function usageError(io: CliIO, message: string): number {
  io.err(`gatehouse control-plane: ${message}\n\n${USAGE}`);
  return 2;
}

function failure(io: CliIO, err: unknown): number {
  io.err(`gatehouse control-plane: ${err instanceof Error ? err.message : String(err)}`);
  return err instanceof ControlPlaneError &&
    (err.code === 'ERR_CONTROL_INPUT' || err.code === 'ERR_CONTROL_NOT_FOUND' || err.code === 'ERR_CONTROL_CONFLICT')
    ? 2
    : 1;
}

/** The admin token: `GATEHOUSE_CONTROL_TOKEN`, else the one in `<dataDir>/control-admin-token`, created once. */
function adminToken(dataDir: string): { token: string; from: string } {
  const env = process.env.GATEHOUSE_CONTROL_TOKEN;
  if (env) return { token: env, from: 'GATEHOUSE_CONTROL_TOKEN' };
  const file = join(dataDir, ADMIN_TOKEN_FILE);
  if (existsSync(file)) return { token: readFileSync(file, 'utf8').trim(), from: file };
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, `${newProjectToken().replace(/^px_/, 'gha_')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return { token: readFileSync(file, 'utf8').trim(), from: `${file} (generated)` };
}

/**
 * `gatehouse control-plane ...`: run a control plane, or add a project / set its status in the store.
 * Resolves to the exit status: 0 done (the server keeps running), 1 failure, 2 usage error (nothing written).
 */
export async function runControlPlaneCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const parsed = parseCommand(argv, OPTIONS, io, USAGE, (message) => usageError(io, message));
  if (typeof parsed === 'number') return parsed;
  const flags = parsed.values;
  const dataDir = resolve(flags['data-dir'] || './control');
  if (flags.redis !== undefined && flags['data-dir'] !== undefined)
    return usageError(io, 'give --data-dir or --redis, not both');
  if (flags['key-prefix'] !== undefined && flags.redis === undefined)
    return usageError(io, '--key-prefix goes with --redis');
  const redis =
    flags.redis === undefined
      ? undefined
      : flags['key-prefix'] === undefined
        ? flags.redis
        : { url: flags.redis, keyPrefix: flags['key-prefix'] };
  const logger = createLogger({
    level: process.env.GATEHOUSE_LOG_LEVEL ?? 'warn',
    base: { service: 'gatehouse-control' },
  });
  const [group, action, name, state, ...extra] = parsed.positionals;

  if (group === undefined) {
    const port = flags.port === undefined ? 4000 : Number(flags.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      return usageError(io, `--port must be a port number, got ${flags.port ?? ''}`);
    const host = flags.host ?? '127.0.0.1';
    let cp: ControlPlane | undefined;
    try {
      const admin = adminToken(dataDir);
      cp = new ControlPlane({ dataDir, adminToken: admin.token, redis, logger });
      await cp.run({ port, host });
      io.out(
        `gatehouse control plane on http://${host}:${cp.port}/ (store: ${cp.storeKind === 'redis' ? 'Redis' : dataDir}; admin token from ${admin.from})`,
      );
      return 0;
    } catch (err) {
      await cp?.close();
      return failure(io, err);
    }
  }
  if (group !== 'project') return usageError(io, `unknown command ${group}`);
  if (flags.port !== undefined || flags.host !== undefined)
    return usageError(io, '--port and --host go with the server, not with project commands');

  const withControlPlane = async (fn: (cp: ControlPlane) => Promise<number>): Promise<number> => {
    let cp: ControlPlane | undefined;
    try {
      // No admin token and no run(): a store writer. A running control plane notices the write and pushes it.
      cp = new ControlPlane({ dataDir, redis, logger, watchIntervalMs: 0 });
      return await fn(cp);
    } catch (err) {
      return failure(io, err);
    } finally {
      await cp?.close();
    }
  };
  const actor = `cli pid ${process.pid}`;

  if (action === 'add') {
    if (name === undefined) return usageError(io, 'project add needs a NAME');
    if (state !== undefined || extra.length > 0) return usageError(io, `unexpected argument ${state ?? extra[0]!}`);
    const failMode = flags['fail-mode'] ?? 'closed';
    if (failMode !== 'open' && failMode !== 'closed')
      return usageError(io, `--fail-mode must be open or closed, got ${failMode}`);
    return withControlPlane(async (cp) => {
      const { token } = await cp.createProject({ name, failMode, actor });
      if (flags.json) io.out(JSON.stringify({ name, token }));
      else io.out(`project ${name} created (fail mode ${failMode}). Its token, shown this once:\n${token}`);
      return 0;
    });
  }
  if (action === 'status') {
    if (name === undefined || state === undefined) return usageError(io, 'project status needs NAME and STATE');
    if (extra.length > 0) return usageError(io, `unexpected argument ${extra[0]!}`);
    const upper = state.toUpperCase();
    if (!isLifecycleState(upper))
      return usageError(io, `unknown state ${state} (expected one of ${LIFECYCLE_STATES.join(', ')})`);
    let retryAfterSec: number | undefined;
    const retry = flags['retry-after'];
    if (retry !== undefined) {
      if (!/^\d+$/.test(retry)) return usageError(io, `--retry-after must be a whole number of seconds, got ${retry}`);
      retryAfterSec = Number(retry);
    }
    return withControlPlane(async (cp) => {
      const view = await cp.setStatus(name, upper, { message: flags.message, retryAfterSec, actor });
      io.out(
        flags.json
          ? JSON.stringify(view.wire)
          : `project ${name} set to ${upper}${view.wire.message ? ` (${view.wire.message})` : ''}`,
      );
      return 0;
    });
  }
  if (action === 'list') {
    if (name !== undefined) return usageError(io, `unexpected argument ${name}`);
    return withControlPlane(async (cp) => {
      await cp.auditLog({ limit: 1 }); // waits for the store to load
      const projects = cp.projects();
      if (flags.json)
        io.out(
          JSON.stringify(
            projects.map((p) => ({ name: p.name, state: p.state, failMode: p.failMode, message: p.wire.message })),
          ),
        );
      else
        io.out(
          projects.length === 0
            ? 'no projects'
            : projects
                .map((p) => `${p.name}\t${p.state}\t${p.failMode}${p.wire.message ? `\t${p.wire.message}` : ''}`)
                .join('\n'),
        );
      return 0;
    });
  }
  return usageError(
    io,
    action === undefined ? 'project needs an action (add, status, list)' : `unknown action ${action}`,
  );
}
