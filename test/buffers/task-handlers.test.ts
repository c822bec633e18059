import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  BufferError,
  PersistentQueue,
  TaskBuffer,
  defineTask,
  type TaskBufferOptions,
  type TaskHandlers,
} from '../../src/buffers/index.js';
import { EnforcementError } from '../../src/enforcer/index.js';
import { tempDir, waitFor } from './helpers.js';

/** Handler registration rules (enforcer) and input schemas of task definitions. */
describe('TaskBuffer handler definitions and registration rules', () => {
  let dir: string;
  let n = 0;
  const open: { stop(o: { timeoutMs: number }): Promise<void> }[] = [];
  function buffer<H extends TaskHandlers>(opts: TaskBufferOptions<H>): TaskBuffer<H> {
    const b = new TaskBuffer<H>({ dataDir: dir, queue: `defs-${n++}`, ...opts });
    open.push(b);
    return b;
  }
  /** A queue that already holds one job, to check a refused registration leaves it alone. */
  function seeded(queue: string): PersistentQueue {
    const q = new PersistentQueue({ dataDir: dir, name: queue });
    q.push({ payload: { keep: true } });
    open.push({ stop: async () => q.close() });
    return q;
  }

  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    for (const b of open.splice(0)) await b.stop({ timeoutMs: 0 });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const sendEmail = {
    description: 'Send one email',
    input: z.object({
      to: z
        .string()
        .email()
        .transform((s) => s.toLowerCase()),
      retries: z.number().int().default(3),
    }),
    handle: (data: { to: string; retries: number }) => data,
  };

  it('strict refuses a bare function and a definition without description or input; the store is untouched', () => {
    const q = seeded('strict');
    const before = JSON.stringify([q.stats(), q.peek(10)]);
    const attempts: [string, TaskHandlers][] = [
      ['bare function', { SEND: async () => undefined }],
      ['no description', { SEND: { description: '', input: z.object({}), handle: () => undefined } }],
      ['no input', { SEND: { description: 'x', handle: () => undefined } as never }],
    ];
    for (const [what, handlers] of attempts) {
      let err: unknown;
      try {
        new TaskBuffer({ dataDir: dir, queue: 'strict', enforce: 'strict', handlers });
      } catch (e) {
        err = e;
      }
      expect(err, what).toBeInstanceOf(EnforcementError);
      expect((err as EnforcementError).code, what).toBe('ERR_ENFORCE_HANDLER');
      expect((err as Error).message, what).toContain("task 'SEND'");
    }
    expect(JSON.stringify([q.stats(), q.peek(10)])).toBe(before);
  });

  it('strict accepts a full definition (inline or through defineTask) and runs it', async () => {
    const seen: unknown[] = [];
    const tasks = buffer({
      enforce: 'strict',
      handlers: {
        A: { description: 'a', input: z.number(), handle: (d: number) => void seen.push(['A', d]) },
        B: defineTask({
          description: 'b',
          input: z.object({ s: z.string() }),
          handle: (d) => void seen.push(['B', d.s]),
        }),
      },
    });
    tasks.push('A', 1);
    tasks.push('B', { s: 'x' });
    tasks.start();
    await waitFor(() => seen.length === 2);
    expect(seen).toContainEqual(['A', 1]);
    expect(seen).toContainEqual(['B', 'x']);
  });

  it('warn and off accept bare functions and incomplete definitions, and run them', async () => {
    for (const enforce of ['warn', 'off'] as const) {
      const seen: unknown[] = [];
      const tasks = buffer({
        enforce,
        handlers: {
          BARE: (d: number) => void seen.push(d),
          NODESC: { description: '', input: z.number(), handle: (d: number) => void seen.push(d * 10) },
        },
      });
      tasks.push('BARE', 1);
      tasks.push('NODESC', 2);
      tasks.start();
      await waitFor(() => seen.length === 2, 10_000, `${enforce} jobs`);
      expect(seen.sort()).toEqual([1, 20]);
    }
  });

  it('refuses a bad enforce option and an input that is not a schema, whatever the mode', () => {
    expect(() => new TaskBuffer({ dataDir: dir, enforce: 'loud' as never })).toThrow(
      /option "enforce" must be one of "strict", "warn", "off"/,
    );
    const handlers = { X: { description: 'x', input: { parse: () => 1 }, handle: () => undefined } } as never;
    for (const enforce of ['warn', 'off'] as const) {
      expect(() => new TaskBuffer({ dataDir: dir, enforce, handlers })).toThrow(
        /option "handlers\.X\.input" must be a zod schema/,
      );
    }
    expect(
      () => new TaskBuffer({ dataDir: dir, enforce: 'off', handlers: { X: { description: 'x' } as never } }),
    ).toThrow(/option "handlers\.X" must be a function or \{ description, input, handle \}/);
  });

  it('push and pushMany validate data against the input schema: a bad payload is refused and nothing is stored', () => {
    const tasks = buffer({ enforce: 'strict', handlers: { SEND: sendEmail } });
    tasks.push('SEND', { to: 'Keep@Example.com' });
    const probe = new PersistentQueue({ dataDir: dir, name: tasks.queue });
    open.push({ stop: async () => probe.close() });
    const before = JSON.stringify([tasks.stats(), probe.peek(10)]);

    let err: unknown;
    try {
      tasks.push('SEND', { to: 'not an email', retries: 1.5 } as never);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BufferError);
    expect((err as BufferError).code).toBe('ERR_BUFFER_INVALID_PAYLOAD');
    expect((err as Error).message).toMatch(/data of task SEND does not match its input schema: to: .*; retries: /);
    expect(() => tasks.push('SEND', undefined as never)).toThrow(/\(root\): /);

    // One bad item refuses the whole batch.
    expect(() =>
      tasks.pushMany([
        { type: 'SEND', data: { to: 'a@example.com' } },
        { type: 'SEND', data: { to: 42 } as never },
      ]),
    ).toThrow(
      expect.objectContaining({ code: 'ERR_BUFFER_INVALID_PAYLOAD', message: expect.stringContaining('to: ') }),
    );
    expect(JSON.stringify([tasks.stats(), probe.peek(10)])).toBe(before);
    expect(tasks.stats().pending).toBe(1);
  });

  it('stores and hands the handler the parsed data (transforms and defaults applied)', async () => {
    const got: unknown[] = [];
    const tasks = buffer({
      enforce: 'strict',
      handlers: { SEND: { ...sendEmail, handle: (data: { to: string; retries: number }) => void got.push(data) } },
    });
    tasks.push('SEND', { to: 'Ann@Example.COM' });
    tasks.pushMany([{ type: 'SEND', data: { to: 'Bob@Example.com', retries: 1 } }]);
    const probe = new PersistentQueue({ dataDir: dir, name: tasks.queue });
    open.push({ stop: async () => probe.close() });
    expect(probe.peek(10).map((j) => j.payload)).toEqual([
      { to: 'ann@example.com', retries: 3 },
      { to: 'bob@example.com', retries: 1 },
    ]);
    tasks.start();
    await waitFor(() => got.length === 2);
    expect(got).toEqual([
      { to: 'ann@example.com', retries: 3 },
      { to: 'bob@example.com', retries: 1 },
    ]);
  });

  it('types push data from the schema input and handle data from its output', () => {
    const tasks = buffer({
      enforce: 'off',
      handlers: {
        DEF: defineTask({
          description: 'd',
          input: z.object({ n: z.string().transform(Number) }),
          handle: (d) => {
            const out: number = d.n;
            return out;
          },
        }),
        BARE: (d: { k: string }) => d.k,
      },
    });
    tasks.push('DEF', { n: '1' });
    tasks.push('BARE', { k: 'x' });
    // @ts-expect-error the schema's input is a string
    expect(() => tasks.push('DEF', { n: 1 })).toThrow(/n: /);
    // @ts-expect-error unknown task type
    expect(() => tasks.push('NOPE', 1)).toThrow(/unknown task type/);
    expect(tasks.stats().pending).toBe(2);
  });
});
