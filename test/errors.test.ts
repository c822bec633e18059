import { describe, expect, it } from 'vitest';
import { GatehouseError, ValidationError } from '../src/errors.js';
import { BufferError, UnrecoverableError } from '../src/buffers/errors.js';
import { DatabaseError } from '../src/database/errors.js';
import { EnforcementError } from '../src/enforcer/errors.js';
import { LifecycleError, ServiceUnavailableError } from '../src/lifecycle/errors.js';
import { AuthError, ForbiddenError, GateConfigError, RateLimitError } from '../src/servers/gates/errors.js';
import { HttpError } from '../src/servers/errors.js';
import { toProblem } from '../src/servers/problem.js';
import { RealtimeError } from '../src/servers/realtime/errors.js';

describe('GatehouseError', () => {
  it('carries a code, a status and the cause, and is named after its subclass', () => {
    class QueueError extends GatehouseError {}
    const cause = new Error('disk full');
    const err = new QueueError('push failed', { code: 'ERR_QUEUE_PUSH', cause, status: 503 });
    expect(err).toBeInstanceOf(GatehouseError);
    expect(err.name).toBe('QueueError');
    expect(err.code).toBe('ERR_QUEUE_PUSH');
    expect(err.status).toBe(503);
    expect(err.cause).toBe(cause);
    expect(new GatehouseError('x', { code: 'ERR_X' }).status).toBe(500);
  });
});

describe('the error taxonomy', () => {
  it('derives Retry-After from retryAfterSec unless the headers set it', () => {
    expect(
      new GatehouseError('slow down', { code: 'ERR_RATE_LIMITED', status: 429, retryAfterSec: 7 }).headers,
    ).toEqual({ 'Retry-After': '7' });
    const own = new GatehouseError('x', {
      code: 'ERR_X',
      retryAfterSec: 7,
      headers: { 'Retry-After': '9', 'X-A': 'b' },
    });
    expect(own.headers).toEqual({ 'Retry-After': '9', 'X-A': 'b' });
    expect(own.retryAfterSec).toBe(7);
    expect(new GatehouseError('x', { code: 'ERR_X' }).headers).toBeUndefined();
  });

  it('gives every capability class the (message, options) shape with its fixed status and code', () => {
    const cause = new Error('root');
    const cases: Array<[GatehouseError, string, number]> = [
      [new AuthError('expired', { code: 'ERR_AUTH_EXPIRED', cause }), 'ERR_AUTH_EXPIRED', 401],
      [new ForbiddenError('Missing required scope: a', { missing: ['a'] }), 'ERR_FORBIDDEN_SCOPE', 403],
      [new RateLimitError('slow', { retryAfterSec: 3 }), 'ERR_RATE_LIMITED', 429],
      [new GateConfigError('bad gate'), 'ERR_GATE_CONFIG', 500],
      [new ValidationError('bad input', { errors: [{ path: 'a', message: 'required' }] }), 'ERR_VALIDATION', 400],
      [new HttpError(404, 'Note not found', { code: 'NOTE_NOT_FOUND' }), 'NOTE_NOT_FOUND', 404],
      [new DatabaseError('busy', { code: 'ERR_DB_BUSY', cause }), 'ERR_DB_BUSY', 500],
      [new BufferError('closed', { code: 'ERR_BUFFER_CLOSED' }), 'ERR_BUFFER_CLOSED', 500],
      [new UnrecoverableError('no recipient'), 'ERR_UNRECOVERABLE', 500],
      [new LifecycleError('bad state', { code: 'ERR_LIFECYCLE_INPUT' }), 'ERR_LIFECYCLE_INPUT', 400],
      [new ServiceUnavailableError('paused', { code: 'SERVICE_PAUSED', retryAfterSec: 30 }), 'SERVICE_PAUSED', 503],
      [new RealtimeError('too many groups', { code: 'ERR_GROUP_LIMIT' }), 'ERR_GROUP_LIMIT', 400],
      [
        new EnforcementError('bad args', { code: 'ERR_ENFORCE_ARGS', functionName: 'f', path: [0] }),
        'ERR_ENFORCE_ARGS',
        500,
      ],
    ];
    for (const [err, code, status] of cases) {
      expect(err).toBeInstanceOf(GatehouseError);
      expect([err.name, err.code, err.status]).toEqual([err.constructor.name, code, status]);
    }
    expect(new AuthError('x', { code: 'ERR_AUTH_EXPIRED', cause }).cause).toBe(cause);
    expect(new AuthError('x', { code: 'ERR_AUTH_MISSING' }).headers).toEqual({ 'WWW-Authenticate': 'Bearer' });
    expect(new AuthError('x', { code: 'ERR_AUTH_EXPIRED' }).headers).toEqual({
      'WWW-Authenticate': 'Bearer, error="invalid_token"',
    });
    expect(new AuthError('x', { code: 'ERR_AUTH_BASIC', challenge: 'Basic realm="api"' }).headers).toEqual({
      'WWW-Authenticate': 'Basic realm="api"',
    });
    expect(new ServiceUnavailableError('paused', { code: 'SERVICE_PAUSED', retryAfterSec: 30 }).headers).toEqual({
      'Retry-After': '30',
    });
  });

  it('turns any gatehouse error into a problem from its own fields, field issues included', () => {
    const limited = toProblem(new RateLimitError('slow', { retryAfterSec: 3 }), 'req-1');
    expect([limited.status, limited.body.code, limited.headers]).toEqual([
      429,
      'ERR_RATE_LIMITED',
      { 'Retry-After': '3' },
    ]);
    const invalid = toProblem(
      new ValidationError('The request input is invalid', { errors: [{ path: 'name', message: 'Required' }] }),
      'req-2',
    );
    expect(invalid.body).toMatchObject({
      status: 400,
      code: 'ERR_VALIDATION',
      detail: 'The request input is invalid',
      errors: [{ path: 'name', message: 'Required' }],
      requestId: 'req-2',
    });
    const unavailable = toProblem(
      new ServiceUnavailableError('Back soon', { code: 'SERVICE_MAINTENANCE', retryAfterSec: 60 }),
      'req-3',
    );
    expect([unavailable.status, unavailable.body.detail, unavailable.headers]).toEqual([
      503,
      'Back soon',
      { 'Retry-After': '60' },
    ]);
    const crash = toProblem(new DatabaseError('SQLITE_IOERR at /secret/path', { code: 'ERR_DB_QUERY' }), 'req-4');
    expect([crash.status, crash.unexpected, crash.body.detail.includes('/secret/path')]).toEqual([500, true, false]);
  });
});
