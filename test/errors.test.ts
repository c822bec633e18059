import { describe, expect, it } from 'vitest';
import { GatehouseError } from '../src/index.js';

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
