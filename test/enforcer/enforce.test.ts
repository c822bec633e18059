import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { enforce, EnforcementError, GatehouseError, z } from '../../src/index.js';
import { captureLogger } from './capture.js';
import { expectThrown } from '../helpers.js';

const ENV = process.env.GATEHOUSE_ENFORCE;

const caught = (fn: () => unknown): EnforcementError => expectThrown(fn, EnforcementError);

async function rejected(promise: unknown): Promise<EnforcementError> {
  expect(promise).toBeInstanceOf(Promise);
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(EnforcementError);
    return err as EnforcementError;
  }
  throw new Error('expected a rejection, the promise resolved');
}

const userContract = {
  description: 'Creates a new user record',
  args: [z.string().min(1), z.number().int().nonnegative()],
  returns: z.object({ name: z.string(), age: z.number() }),
} as const;

beforeEach(() => {
  delete process.env.GATEHOUSE_ENFORCE;
  enforce.configure({ mode: 'strict' });
});
afterEach(() => {
  if (ENV === undefined) delete process.env.GATEHOUSE_ENFORCE;
  else process.env.GATEHOUSE_ENFORCE = ENV;
  enforce.configure({ mode: 'strict' });
});

describe('enforce() definition-time rules', () => {
  const fn = (name: string, age: number): { name: string; age: number } => ({ name, age });

  it('refuses a missing or blank description at once', () => {
    for (const description of [undefined, '', '   ']) {
      const err = caught(() => enforce({ ...userContract, description: description as string }, fn));
      expect(err).toBeInstanceOf(GatehouseError);
      expect(err.code).toBe('ERR_ENFORCE_DEFINITION');
      expect(err.functionName).toBe('fn');
      expect(err.message).toBe('enforce(fn): description is missing or empty');
    }
  });

  it('refuses a function with more than 8 parameters', () => {
    const nine = (
      a: number,
      b: number,
      c: number,
      d: number,
      e: number,
      f: number,
      g: number,
      h: number,
      i: number,
    ): number => a + b + c + d + e + f + g + h + i;
    const n = z.number();
    const err = caught(() =>
      enforce({ description: 'Sums nine', args: [n, n, n, n, n, n, n, n, n], returns: n }, nine),
    );
    expect(err.code).toBe('ERR_ENFORCE_DEFINITION');
    expect(err.message).toBe('enforce(nine): declares 9 parameters; at most 8 are allowed');
    // Eight is still fine.
    const eight = (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number): number =>
      a + b + c + d + e + f + g + h;
    expect(
      enforce({ description: 'Sums eight', args: [n, n, n, n, n, n, n, n], returns: n }, eight)(1, 1, 1, 1, 1, 1, 1, 1),
    ).toBe(8);
  });

  it('refuses args whose length differs from fn.length', () => {
    const err = caught(() => enforce({ ...userContract, args: [z.string()] as never }, fn));
    expect(err.code).toBe('ERR_ENFORCE_DEFINITION');
    expect(err.message).toBe('enforce(fn): args has 1 schema(s) but the function declares 2 parameter(s)');
    const extra = caught(() => enforce({ ...userContract, args: [z.string(), z.number(), z.boolean()] as never }, fn));
    expect(extra.message).toBe('enforce(fn): args has 3 schema(s) but the function declares 2 parameter(s)');
  });

  it('refuses a missing returns schema, and entries that are not zod schemas', () => {
    const noReturns = caught(() => enforce({ description: 'x', args: userContract.args } as never, fn as never));
    expect(noReturns.code).toBe('ERR_ENFORCE_DEFINITION');
    expect(noReturns.message).toBe('enforce(fn): returns is missing (use z.void() for functions that return nothing)');
    const badArg = caught(() => enforce({ ...userContract, args: [z.string(), 'number'] as never }, fn));
    expect(badArg.message).toBe('enforce(fn): args[1] is not a zod schema');
  });

  it('reports every broken rule in one error and names the function from spec.name', () => {
    const err = caught(() => enforce({ name: 'createUser', args: [] } as never, fn as never));
    expect(err.functionName).toBe('createUser');
    expect(err.message).toBe(
      'enforce(createUser): description is missing or empty; args has 0 schema(s) but the function declares 2 parameter(s); ' +
        'returns is missing (use z.void() for functions that return nothing)',
    );
  });

  it('refuses a missing contract or a non-function, even in warn mode for the latter', () => {
    const f = (a: number): number => a;
    expect(caught(() => enforce(null as never, f as never)).message).toBe(
      'enforce(f): the contract must be an object { description, args, returns }',
    );
    enforce.configure({ mode: 'warn', logger: captureLogger().logger });
    expect((enforce(null as never, f as never) as (a: number) => number)(5)).toBe(5);
    expect(caught(() => enforce(userContract, 'nope' as never)).message).toMatch(/: fn must be a function$/);
  });

  it('names an anonymous function after the place enforce() was called', () => {
    const err = caught(() => enforce({ description: '', args: [], returns: z.void() }, () => undefined));
    expect(err.functionName).toMatch(/^anonymous \(test\/enforcer\/enforce\.test\.ts:\d+:\d+\)$/);
  });

  it('returns a wrapper with the original name and length for a sound contract', () => {
    const createUser = enforce(userContract, function createUser(name, age) {
      return { name, age };
    });
    expect(createUser.name).toBe('createUser');
    expect(createUser.length).toBe(2);
    expect(createUser('Ann', 3)).toEqual({ name: 'Ann', age: 3 });
  });
});

describe('enforce() call-time validation', () => {
  it('throws ERR_ENFORCE_ARGS with the argument index and does not call the function', () => {
    let calls = 0;
    const createUser = enforce(userContract, function createUser(name, age) {
      calls++;
      return { name, age };
    });
    const err = caught(() => createUser('Ann', -1));
    expect(err.code).toBe('ERR_ENFORCE_ARGS');
    expect(err.functionName).toBe('createUser');
    expect(err.path).toEqual([1]);
    expect(err.pathText).toBe('args[1]');
    expect(err.issues).toEqual([expect.objectContaining({ code: 'too_small', path: [] })]);
    expect(err.message).toMatch(/^createUser: invalid argument at args\[1\]: /);
    expect(caught(() => createUser('', 1)).path).toEqual([0]);
    expect(calls).toBe(0);
    expect(createUser('Ann', 0)).toEqual({ name: 'Ann', age: 0 });
    expect(calls).toBe(1);
  });

  it('gives the nested path inside an argument', () => {
    const save = enforce(
      {
        description: 'Saves an order',
        args: [z.string(), z.object({ name: z.string(), items: z.array(z.object({ qty: z.number().positive() })) })],
        returns: z.boolean(),
      },
      function save(_id, _order) {
        return true;
      },
    );
    const err = caught(() => save('o1', { name: 5 as unknown as string, items: [] }));
    expect(err.path).toEqual([1, 'name']);
    expect(err.pathText).toBe('args[1].name');
    const deep = caught(() => save('o1', { name: 'x', items: [{ qty: 1 }, { qty: 2 }, { qty: 0 }] }));
    expect(deep.path).toEqual([1, 'items', 2, 'qty']);
    expect(deep.pathText).toBe('args[1].items[2].qty');
  });

  it('checks every position for arities 0 to 5, and calls with fewer arguments check undefined', () => {
    const n = z.number();
    const makers = [
      () => enforce({ name: 'f0', description: 'Zero', args: [], returns: n }, () => 0),
      () => enforce({ name: 'f1', description: 'One', args: [n], returns: n }, (a) => a),
      () => enforce({ name: 'f2', description: 'Two', args: [n, n], returns: n }, (a, b) => a + b),
      () => enforce({ name: 'f3', description: 'Three', args: [n, n, n], returns: n }, (a, b, c) => a + b + c),
      () => enforce({ name: 'f4', description: 'Four', args: [n, n, n, n], returns: n }, (a, b, c, d) => a + b + c + d),
      () =>
        enforce(
          { name: 'f5', description: 'Five', args: [n, n, n, n, n], returns: n },
          (a, b, c, d, e) => a + b + c + d + e,
        ),
    ];
    makers.forEach((make, arity) => {
      const fn = make() as (...a: unknown[]) => unknown;
      expect(fn(...Array.from({ length: arity }, () => 1))).toBe(arity);
      for (let bad = 0; bad < arity; bad++) {
        const args = Array.from({ length: arity }, (_, i) => (i === bad ? 'x' : 1));
        const err = caught(() => fn(...args));
        expect([err.functionName, err.path, err.pathText]).toEqual([`f${arity}`, [bad], `args[${bad}]`]);
        // Fewer arguments than declared: the missing one is checked as undefined.
        const short = caught(() => fn(...Array.from({ length: bad }, () => 1)));
        expect(short.path).toEqual([bad]);
        expect(short.issues[0]!.message).toMatch(/received undefined/);
      }
      const extra = caught(() => fn(...Array.from({ length: arity + 1 }, () => 1)));
      expect(extra.path).toEqual([arity]);
    });
  });

  it('refuses more arguments than the contract declares', () => {
    const one = enforce({ name: 'one', description: 'Echoes', args: [z.number()], returns: z.number() }, (n) => n);
    const err = caught(() => (one as (...a: unknown[]) => unknown)(1, 2));
    expect(err.code).toBe('ERR_ENFORCE_ARGS');
    expect(err.path).toEqual([1]);
    expect(err.message).toBe('one: invalid argument at args[1]: expected at most 1 arguments, got 2');
  });

  it('throws ERR_ENFORCE_RETURN with the path inside a bad synchronous return value', () => {
    const broken = enforce(userContract, function broken(name, _age) {
      return { name, age: 'old' as unknown as number };
    });
    const err = caught(() => broken('Ann', 3));
    expect(err.code).toBe('ERR_ENFORCE_RETURN');
    expect(err.path).toEqual(['age']);
    expect(err.pathText).toBe('return.age');
    expect(err.message).toMatch(/^broken: invalid return value at return\.age: /);
  });

  it('rejects (not throws) an async function called with bad arguments, without running it', async () => {
    let calls = 0;
    const load = enforce(
      { description: 'Loads a user', args: [z.object({ id: z.uuid() })], returns: z.object({ id: z.string() }) },
      async (query) => {
        calls++;
        return { id: query.id };
      },
    );
    const err = await rejected(load({ id: 'not-a-uuid' }));
    expect(err.code).toBe('ERR_ENFORCE_ARGS');
    expect(err.path).toEqual([0, 'id']);
    expect(err.pathText).toBe('args[0].id');
    expect(calls).toBe(0);
  });

  it('checks the resolved value of async functions and of functions returning promises', async () => {
    const list = enforce(
      { description: 'Lists items', args: [z.number()], returns: z.object({ items: z.array(z.string()) }) },
      async (n) => ({ items: Array.from({ length: n }, (_, i) => (i === 1 ? (7 as unknown as string) : `item${i}`)) }),
    );
    await expect(list(1)).resolves.toEqual({ items: ['item0'] });
    const err = await rejected(list(3));
    expect(err.code).toBe('ERR_ENFORCE_RETURN');
    expect(err.path).toEqual(['items', 1]);
    expect(err.pathText).toBe('return.items[1]');

    const later = enforce({ description: 'Resolves later', args: [z.number()], returns: z.string() }, (n) =>
      Promise.resolve(n as unknown as string),
    );
    const err2 = await rejected(later(5));
    expect(err2.code).toBe('ERR_ENFORCE_RETURN');
    expect(err2.path).toEqual([]);
    expect(err2.pathText).toBe('return');
  });

  it('keeps `this` and passes the caller’s values through untransformed', () => {
    const counter = {
      base: 10,
      add: enforce(
        { description: 'Adds to the base', args: [z.string().trim()], returns: z.string() },
        function (this: { base: number }, s: string): string {
          return `${this.base}:${s}`;
        },
      ),
    };
    expect(counter.add('  x  ')).toBe('10:  x  ');
  });
});

describe('enforce() modes', () => {
  it('off: returns the original function object and checks nothing, not even the definition', () => {
    enforce.configure({ mode: 'off' });
    expect(enforce.mode()).toBe('off');
    const fn = (name: string, age: number): { name: string; age: number } => ({ name, age });
    const same = enforce(userContract, fn);
    expect(same).toBe(fn);
    expect(same('Ann', -1)).toEqual({ name: 'Ann', age: -1 });
    const broken = (a: number): number => a;
    expect(enforce({ description: '' } as never, broken as never)).toBe(broken);
  });

  it('warn: logs a broken definition instead of throwing, and still checks what it can', () => {
    const { logger, lines } = captureLogger();
    enforce.configure({ mode: 'warn', logger });
    const fn = enforce({ description: '', args: [z.number()], returns: z.number() }, function half(n: number): number {
      return n / 2;
    });
    expect(fn(4)).toBe(2);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 40,
      component: 'enforcer',
      code: 'ERR_ENFORCE_DEFINITION',
      function: 'half',
    });
  });

  it('warn: logs bad arguments and returns once per function, and the call goes on', async () => {
    const { logger, lines } = captureLogger();
    enforce.configure({ mode: 'warn', logger });
    let calls = 0;
    const createUser = enforce({ ...userContract, name: 'createUser' }, (name, age) => {
      calls++;
      return { name, age: age === 99 ? ('x' as unknown as number) : age };
    });
    expect(createUser('Ann', -1)).toEqual({ name: 'Ann', age: -1 });
    expect(createUser('Ann', -2)).toEqual({ name: 'Ann', age: -2 });
    expect(createUser('Ann', 99)).toEqual({ name: 'Ann', age: 'x' });
    expect(createUser('Ann', 99)).toEqual({ name: 'Ann', age: 'x' });
    expect(calls).toBe(4);
    expect(lines.map((l) => [l.code, l.function, l.path])).toEqual([
      ['ERR_ENFORCE_ARGS', 'createUser', 'args[1]'],
      ['ERR_ENFORCE_RETURN', 'createUser', 'return.age'],
    ]);
    // A second function gets its own report.
    const other = enforce({ description: 'Async echo', args: [z.number()], returns: z.number() }, async (n) => n);
    await expect(other('a' as unknown as number)).resolves.toBe('a');
    // Its bad argument flows through to a bad (awaited) return value: both are reported.
    expect(lines).toHaveLength(4);
    expect(lines[2]).toMatchObject({ code: 'ERR_ENFORCE_ARGS', path: 'args[0]' });
    expect(lines[3]).toMatchObject({ code: 'ERR_ENFORCE_RETURN', path: 'return' });
    expect(lines[2]!.function).toMatch(/^anonymous \(test\/enforcer\/enforce\.test\.ts:\d+:\d+\)$/);
  });

  it('warn: reports only the first bad argument and parses no later one, and the call goes on (every arity)', () => {
    // Declared parameters match the contract (a definition rule): one target per arity, answering its arity.
    const TARGETS = [
      (_a: unknown) => 1,
      (_a: unknown, _b: unknown) => 2,
      (_a: unknown, _b: unknown, _c: unknown) => 3,
      (_a: unknown, _b: unknown, _c: unknown, _d: unknown) => 4,
      (_a: unknown, _b: unknown, _c: unknown, _d: unknown, _e: unknown) => 5,
    ];
    for (let arity = 1; arity <= 5; arity++) {
      for (let bad = 0; bad < arity; bad++) {
        const { logger, lines } = captureLogger();
        enforce.configure({ mode: 'warn', logger });
        const parsed: number[] = [];
        const args = Array.from({ length: arity }, (_, i) =>
          z.unknown().refine((v) => parsed.push(i) > 0 && typeof v === 'number'),
        );
        const fn = enforce(
          { name: `w${arity}`, description: 'Counts its arguments', args, returns: z.number() } as never,
          TARGETS[arity - 1] as never,
        ) as (...a: unknown[]) => unknown;
        // Every argument from `bad` on is wrong; only `bad` is reported and nothing after it is parsed.
        expect(fn(...Array.from({ length: arity }, (_, i) => (i < bad ? 1 : 'x')))).toBe(arity);
        expect(parsed).toEqual(Array.from({ length: bad + 1 }, (_, i) => i));
        expect(lines.map((l) => [l.code, l.function, l.path])).toEqual([
          ['ERR_ENFORCE_ARGS', `w${arity}`, `args[${bad}]`],
        ]);
      }
    }
  });

  it('wrappers follow later mode changes; functions defined while off stay unwrapped', () => {
    const strictFn = enforce(userContract, (name, age) => ({ name, age }));
    expect(caught(() => strictFn('Ann', -1)).code).toBe('ERR_ENFORCE_ARGS');
    enforce.configure({ mode: 'off' });
    expect(strictFn('Ann', -1)).toEqual({ name: 'Ann', age: -1 });
    enforce.configure({ mode: 'strict' });
    expect(caught(() => strictFn('Ann', -1)).code).toBe('ERR_ENFORCE_ARGS');
  });

  it('reads GATEHOUSE_ENFORCE (case-insensitive) when configure() gets no mode, and rejects bad values', () => {
    process.env.GATEHOUSE_ENFORCE = 'OFF';
    enforce.configure({});
    expect(enforce.mode()).toBe('off');
    process.env.GATEHOUSE_ENFORCE = ' warn ';
    enforce.configure({});
    expect(enforce.mode()).toBe('warn');
    delete process.env.GATEHOUSE_ENFORCE;
    enforce.configure({});
    expect(enforce.mode()).toBe('strict');
    process.env.GATEHOUSE_ENFORCE = 'loud';
    const err = caught(() => enforce.configure({}));
    expect(err.code).toBe('ERR_ENFORCE_CONFIG');
    expect(err.message).toBe(
      'enforcer: option "GATEHOUSE_ENFORCE" must be one of "strict", "warn", "off" (got "loud")',
    );
    const bad = caught(() => enforce.configure({ mode: 'loud' as never }));
    expect(bad.message).toBe('enforce.configure: option "mode" must be one of "strict", "warn", "off" (got "loud")');
    const badLogger = caught(() => enforce.configure({ mode: 'warn', logger: {} as never }));
    expect(badLogger.code).toBe('ERR_ENFORCE_CONFIG');
    expect(badLogger.message).toBe(
      'enforce.configure: option "logger" must be a gatehouse (pino) logger (got an object)',
    );
    const notObject = caught(() => enforce.configure(null as never));
    expect(notObject.message).toBe('enforce.configure: option "config" must be an object (got null)');
    expect(enforce.mode()).toBe('strict');
  });

  it('takes the mode from GATEHOUSE_ENFORCE at process start (real child process)', async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const script = [
      "import { enforce, z } from './src/index.ts';",
      'const f = (a) => a;',
      "const g = enforce({ description: 'Echoes', args: [z.number()], returns: z.number() }, f);",
      "let threw = 'no';",
      "try { g('x'); } catch (err) { threw = err.code; }",
      'console.log(JSON.stringify({ mode: enforce.mode(), same: g === f, threw }));',
    ].join('\n');
    const run = (mode: string): Promise<string> =>
      new Promise((resolve, reject) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', '--input-type=module', '-e', script],
          {
            cwd: root,
            timeout: 45_000,
            env: { ...process.env, GATEHOUSE_ENFORCE: mode, GATEHOUSE_LOG_LEVEL: 'silent' },
          },
          (err, stdout) => (err ? reject(err) : resolve(stdout.trim())),
        );
      });
    const [off, strict] = await Promise.all([run('off'), run('strict')]);
    expect(JSON.parse(off)).toEqual({ mode: 'off', same: true, threw: 'no' });
    expect(JSON.parse(strict)).toEqual({ mode: 'strict', same: false, threw: 'ERR_ENFORCE_ARGS' });
  });
});
