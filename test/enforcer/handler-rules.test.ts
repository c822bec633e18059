import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { enforce, EnforcementError, z } from '../../src/index.js';
import { checkHandlerRegistration } from '../../src/enforcer/internal.js';
import { captureLogger } from './capture.js';
import { expectThrown } from '../helpers.js';

const input = z.object({ name: z.string() });
const handler = async (): Promise<void> => {};

const caught = (fn: () => unknown): EnforcementError => expectThrown(fn, EnforcementError);

beforeEach(() => enforce.configure({ mode: 'strict' }));
afterEach(() => enforce.configure({ mode: 'strict' }));

describe('checkHandlerRegistration', () => {
  it('accepts a handler with a description and a zod input schema', () => {
    expect(
      checkHandlerRegistration({ kind: 'endpoint', name: 'POST /api/greet', description: 'Greets', input, handler }),
    ).toEqual([]);
  });

  it('strict: refuses a missing or blank description, naming the kind and handler', () => {
    for (const description of [undefined, '', '  ']) {
      const err = caught(() =>
        checkHandlerRegistration({ kind: 'event', name: 'chat:send', description, input, handler }),
      );
      expect(err.code).toBe('ERR_ENFORCE_HANDLER');
      expect(err.functionName).toBe('chat:send');
      expect(err.message).toBe(
        "event 'chat:send': description is missing or empty (set the enforce mode to 'warn' or 'off' to allow this)",
      );
    }
  });

  it('strict: refuses a missing input schema, or one that is not a zod schema, and a non-function handler', () => {
    const missing = caught(() =>
      checkHandlerRegistration({ kind: 'task', name: 'email', description: 'Sends mail', handler }),
    );
    expect(missing.code).toBe('ERR_ENFORCE_HANDLER');
    expect(missing.message).toBe(
      "task 'email': input schema is missing (set the enforce mode to 'warn' or 'off' to allow this)",
    );
    const notZod = caught(() =>
      checkHandlerRegistration({
        kind: 'task',
        name: 'email',
        description: 'Sends mail',
        input: { type: 'object' },
        handler: 'x',
      }),
    );
    expect(notZod.message).toBe(
      "task 'email': input is not a zod schema; handler is not a function (set the enforce mode to 'warn' or 'off' to allow this)",
    );
  });

  it('warn: logs once per handler and returns the problems instead of throwing', () => {
    const { logger, lines } = captureLogger();
    enforce.configure({ mode: 'warn', logger });
    const reg = { kind: 'endpoint', name: 'GET /warn-once', handler } as const;
    expect(checkHandlerRegistration(reg)).toEqual(['description is missing or empty', 'input schema is missing']);
    expect(checkHandlerRegistration(reg)).toEqual(['description is missing or empty', 'input schema is missing']);
    expect(checkHandlerRegistration({ ...reg, kind: 'event' })).toHaveLength(2);
    expect(lines.map((l) => [l.code, l.kind, l.handler])).toEqual([
      ['ERR_ENFORCE_HANDLER', 'endpoint', 'GET /warn-once'],
      ['ERR_ENFORCE_HANDLER', 'event', 'GET /warn-once'],
    ]);
  });

  it('off: checks nothing; a per-call mode overrides the process mode both ways', () => {
    enforce.configure({ mode: 'off' });
    expect(checkHandlerRegistration({ kind: 'endpoint', name: 'GET /off' })).toEqual([]);
    const err = caught(() => checkHandlerRegistration({ kind: 'endpoint', name: 'GET /off', mode: 'strict' }));
    expect(err.code).toBe('ERR_ENFORCE_HANDLER');
    enforce.configure({ mode: 'strict' });
    expect(checkHandlerRegistration({ kind: 'endpoint', name: 'GET /off', mode: 'off' })).toEqual([]);
  });

  it('reports instead of refusing under the built-in default; refuses once strict is chosen on purpose', () => {
    const saved = process.env.GATEHOUSE_ENFORCE;
    delete process.env.GATEHOUSE_ENFORCE;
    try {
      enforce.configure({}); // back to the environment: nothing set, so the built-in default
      expect(checkHandlerRegistration({ kind: 'event', name: 'join_team', input, handler })).toEqual([
        'description is missing or empty',
      ]);
      process.env.GATEHOUSE_ENFORCE = 'strict';
      enforce.configure({});
      expect(caught(() => checkHandlerRegistration({ kind: 'event', name: 'join_team', input, handler })).code).toBe(
        'ERR_ENFORCE_HANDLER',
      );
    } finally {
      if (saved === undefined) delete process.env.GATEHOUSE_ENFORCE;
      else process.env.GATEHOUSE_ENFORCE = saved;
    }
  });

  it('under the built-in default reports nothing for a plain task function, but lists it in a warn mode chosen on purpose', () => {
    const saved = process.env.GATEHOUSE_ENFORCE;
    delete process.env.GATEHOUSE_ENFORCE;
    const log = captureLogger();
    try {
      enforce.configure({ logger: log.logger }); // back to the environment: nothing set, so the built-in default
      const plain = { kind: 'task', name: 'SEND_PLAIN', handler, plain: true } as const;
      expect(checkHandlerRegistration(plain, { reported: new Set() })).toEqual([]);
      expect(log.lines).toEqual([]);
      // A definition that lacks its parts is still reported, and so is an endpoint without them.
      expect(checkHandlerRegistration({ kind: 'task', name: 'SEND_DEF', description: '', input, handler })).toEqual([
        'description is missing or empty',
      ]);
      expect(checkHandlerRegistration({ ...plain, kind: 'endpoint', name: 'POST /plain' })).toHaveLength(2);
      expect(log.lines.map((l) => [l.level, l.handler])).toEqual([
        [40, 'SEND_DEF'],
        [40, 'POST /plain'],
      ]);
      // Chosen on purpose: the owner's warn lists it, the process's warn too, strict refuses it.
      expect(checkHandlerRegistration(plain, { mode: 'warn', reported: new Set(), logger: log.logger })).toHaveLength(
        2,
      );
      enforce.configure({ mode: 'warn', logger: log.logger });
      expect(checkHandlerRegistration(plain, { reported: new Set() })).toHaveLength(2);
      expect(log.lines.map((l) => l.handler)).toEqual(['SEND_DEF', 'POST /plain', 'SEND_PLAIN', 'SEND_PLAIN']);
      expect(caught(() => checkHandlerRegistration(plain, 'strict')).code).toBe('ERR_ENFORCE_HANDLER');
    } finally {
      if (saved === undefined) delete process.env.GATEHOUSE_ENFORCE;
      else process.env.GATEHOUSE_ENFORCE = saved;
    }
  });

  it('takes the owner mode as a second argument, over the registration and the process mode', () => {
    enforce.configure({ mode: 'off' });
    const reg = { kind: 'endpoint', name: 'GET /owner-mode', handler } as const;
    expect(caught(() => checkHandlerRegistration(reg, 'strict')).code).toBe('ERR_ENFORCE_HANDLER');
    expect(checkHandlerRegistration({ ...reg, mode: 'strict' }, 'off')).toEqual([]);
    expect(enforce.mode()).toBe('off');
  });

  it('keeps each owner apart: its own report record and logger, nothing shared with the process or another owner', () => {
    const a = captureLogger();
    const b = captureLogger();
    const proc = captureLogger();
    enforce.configure({ mode: 'strict', logger: proc.logger });
    const reg = { kind: 'task', name: 'shared-name', handler } as const;
    const ownerA = { mode: 'warn', reported: new Set<string>(), logger: a.logger } as const;
    const ownerB = { mode: 'warn', reported: new Set<string>(), logger: b.logger } as const;
    // Two owners registering the same handler name each get their report, once.
    for (let i = 0; i < 2; i++) {
      expect(checkHandlerRegistration(reg, ownerA)).toEqual([
        'description is missing or empty',
        'input schema is missing',
      ]);
      expect(checkHandlerRegistration(reg, ownerB)).toHaveLength(2);
    }
    expect(a.lines.map((l) => [l.code, l.kind, l.handler])).toEqual([['ERR_ENFORCE_HANDLER', 'task', 'shared-name']]);
    expect(b.lines.map((l) => [l.code, l.kind, l.handler])).toEqual([['ERR_ENFORCE_HANDLER', 'task', 'shared-name']]);
    expect(proc.lines).toEqual([]);
    expect([...ownerA.reported]).toEqual(['task\u0000shared-name']);
    // The process record did not see them: a caller without an owner still gets its own report.
    enforce.configure({ mode: 'warn', logger: proc.logger });
    expect(checkHandlerRegistration(reg)).toHaveLength(2);
    expect(proc.lines.map((l) => l.handler)).toEqual(['shared-name']);
  });
});
