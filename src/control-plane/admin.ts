import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { z, type ZodType } from 'zod';
import { LIFECYCLE_STATES, type LifecycleState } from '../lifecycle/index.js';
import {
  HttpError,
  type EndpointContext,
  type EndpointHandler,
  type EndpointMethod,
  type ServicePortal,
} from '../servers/index.js';
import type { AuditEntry, FailMode, InstanceInfo } from './types.js';

/** The control-plane operations the admin API calls (ControlPlane implements them). */
export interface AdminTarget {
  createProject(options: {
    name: string;
    failMode?: FailMode;
    actor?: string;
  }): Promise<{ token: string; project: unknown }>;
  setStatus(
    name: string,
    state: LifecycleState,
    options: { message?: string | null; retryAfterSec?: number | null; actor?: string },
  ): Promise<unknown>;
  setFailMode(name: string, failMode: FailMode, options: { actor?: string }): Promise<unknown>;
  rotateToken(name: string, options: { actor?: string }): Promise<{ token: string }>;
  revokeToken(token: string, options: { actor?: string }): Promise<void>;
  revokeProjectTokens(name: string, options: { actor?: string }): Promise<number>;
  deleteProject(name: string, options: { actor?: string }): Promise<void>;
  projects(): unknown[];
  project(name: string): unknown;
  status(name: string): unknown;
  instances(name: string): InstanceInfo[];
  auditLog(options: { project?: string; limit?: number }): Promise<AuditEntry[]>;
  /** Whether an `Authorization` header carries the admin token. */
  isAdmin(authorization: string | undefined): boolean;
}

const NAME = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
    'letters, digits, dots, dashes or underscores, at most 64, starting with a letter or digit',
  );
const FAIL_MODE = z.enum(['open', 'closed']);
const STATE = z.enum(LIFECYCLE_STATES);
const GATE = { auth: 'none', lifecycle: 'exempt' } as const;
const TAGS = ['admin'];
const AUTH_NOTE = ' (Authorization: Bearer <admin token>)';

function actor(ip: string): string {
  return `admin api ${ip}`;
}

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="gatehouse-control"' };

function nameOf(params: Readonly<Record<string, string | undefined>>): string {
  return params.name ?? '';
}

/**
 * Answer a request without (or with a wrong) admin token: 401 problem+json with a Bearer challenge. Runs
 * before the portal reads the body, so an unauthenticated caller learns nothing about the input's shape.
 */
export function adminAuthProblem(res: ServerResponse, missing: boolean): void {
  writeProblem(
    res,
    401,
    'Unauthorized',
    missing ? 'The admin token is required (Authorization: Bearer <admin token>)' : 'The admin token is not valid',
    'ERR_CONTROL_ADMIN_AUTH',
    { 'WWW-Authenticate': 'Bearer realm="gatehouse-control"' },
  );
}

/**
 * Answer an admin request from a client address that sent too many bad tokens: 429 problem+json
 * (`ERR_ADMIN_THROTTLED`) with `Retry-After`; the token is not checked.
 */
export function adminThrottledProblem(res: ServerResponse, locked: boolean, retryAfterSec: number): void {
  writeProblem(
    res,
    429,
    'Too Many Requests',
    locked
      ? 'Too many bad admin tokens from this address: locked out for a while'
      : 'Too many bad admin tokens from this address: slow down',
    'ERR_ADMIN_THROTTLED',
    { 'Retry-After': String(retryAfterSec) },
  );
}

function writeProblem(
  res: ServerResponse,
  status: number,
  title: string,
  detail: string,
  code: string,
  headers: Record<string, string>,
): void {
  const requestId = randomUUID();
  const body = JSON.stringify({ type: 'about:blank', title, status, detail, code, requestId });
  res.writeHead(status, {
    'Content-Type': 'application/problem+json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    ...headers,
    'Cache-Control': 'no-store',
    'X-Request-Id': requestId,
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(body);
}

/**
 * The admin API under `/api/admin`, on the portal's endpoints (problem+json errors, OpenAPI). The admin token is
 * checked in front of these routes by the control plane; `GET /api/admin/events` (the dashboard's event
 * stream) is served there too.
 */
export function mountAdminApi(portal: ServicePortal, cp: AdminTarget): void {
  // Checked again in every handler: should a request ever reach a route under a spelling the check in front of
  // the router did not read as /api/admin, it still changes nothing without the token.
  const admin = <I>(ctx: EndpointContext<I>): EndpointContext<I> => {
    if (!cp.isAdmin(ctx.req.headers.authorization))
      throw new HttpError(401, 'The admin token is required', { code: 'ERR_CONTROL_ADMIN_AUTH', headers: CHALLENGE });
    return ctx;
  };
  /** One admin route: tagged `admin`, never gated by auth or the lifecycle, the token checked before `handler`. */
  const route = <I extends ZodType>(
    method: EndpointMethod,
    path: string,
    description: string,
    input: I,
    handler: EndpointHandler<I, undefined>,
  ): void => {
    const config = { method, description: `${description}${AUTH_NOTE}`, tags: TAGS, gate: GATE, input };
    portal.endpoint(path, config, (ctx) => handler(admin(ctx)));
  };
  const byName = z.object({ name: NAME }).strict();

  route(
    'GET',
    '/api/admin/projects',
    'List projects with state, fail mode, messages, token hints and instances',
    z.object({}).strict(),
    () => ({
      projects: cp.projects(),
    }),
  );
  route(
    'POST',
    '/api/admin/projects',
    'Create a project; answers 201 with its token, shown this once',
    z.object({ name: NAME, failMode: FAIL_MODE.optional() }).strict(),
    async ({ input, ip, setStatus }) => {
      const created = await cp.createProject({ name: input.name, failMode: input.failMode, actor: actor(ip) });
      setStatus(201);
      return created;
    },
  );
  route('GET', '/api/admin/projects/:name', 'One project', byName, ({ params }) => {
    cp.status(nameOf(params)); // 404 for an unknown project
    return cp.project(nameOf(params)) as Record<string, unknown>;
  });
  route(
    'DELETE',
    '/api/admin/projects/:name',
    'Delete a project: its tokens are revoked and its sockets closed with 4002',
    byName,
    async ({ params, ip }) => {
      await cp.deleteProject(nameOf(params), { actor: actor(ip) });
    },
  );
  route(
    'POST',
    '/api/admin/projects/:name/status',
    "Set a project's state (ACTIVE, PAUSED, MAINTENANCE, OFFLINE, FAILED) with a message and retryAfterSec; every instance follows at once",
    z
      .object({
        name: NAME,
        state: STATE,
        message: z.string().max(1000).nullable().optional(),
        retryAfterSec: z.number().int().min(0).max(604_800).nullable().optional(),
      })
      .strict(),
    ({ input, params, ip }) =>
      cp.setStatus(nameOf(params), input.state, {
        message: input.message,
        retryAfterSec: input.retryAfterSec,
        actor: actor(ip),
      }) as Promise<Record<string, unknown>>,
  );
  route(
    'POST',
    '/api/admin/projects/:name/fail-mode',
    "Set a project's fail mode (closed: clients go OFFLINE when the socket is lost; open: keep the last state)",
    z.object({ name: NAME, failMode: FAIL_MODE }).strict(),
    ({ input, params, ip }) =>
      cp.setFailMode(nameOf(params), input.failMode, { actor: actor(ip) }) as Promise<Record<string, unknown>>,
  );
  route(
    'POST',
    '/api/admin/projects/:name/rotate',
    'Issue a new token and revoke the old ones (their sockets get revoked and close 4002); the new token is shown this once',
    byName,
    ({ params, ip }) => cp.rotateToken(nameOf(params), { actor: actor(ip) }),
  );
  route(
    'POST',
    '/api/admin/projects/:name/revoke',
    'Revoke every valid token of a project',
    byName,
    async ({ params, ip }) => ({
      revoked: await cp.revokeProjectTokens(nameOf(params), { actor: actor(ip) }),
    }),
  );
  route(
    'POST',
    '/api/admin/tokens/revoke',
    'Revoke one project token',
    z.object({ token: z.string().regex(/^px_[A-Za-z0-9_-]{32,128}$/, 'a project token (px_...)') }).strict(),
    async ({ input, ip }) => {
      await cp.revokeToken(input.token, { actor: actor(ip) });
    },
  );
  route(
    'GET',
    '/api/admin/projects/:name/instances',
    "A project's instances: SDK version, language, env, last heartbeat, connected, stale",
    byName,
    ({ params }) => {
      cp.status(nameOf(params));
      return { instances: cp.instances(nameOf(params)) };
    },
  );
  route(
    'GET',
    '/api/admin/audit',
    'The audit log, newest first: who changed what, when, from and to',
    z.object({ project: NAME.optional(), limit: z.number().int().min(1).max(1000).optional() }).strict(),
    async ({ input }) => ({ entries: await cp.auditLog({ project: input.project, limit: input.limit }) }),
  );
}
