import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { createLogger, flushLogger, flushLoggerSync, logsStarted, requestLineWriter } from '../../src/logger.js';
import {
  DECLINED,
  encodable,
  encodeRequestHead,
  encodeRequestTail,
  PLAIN,
  requestLineBytes,
} from '../../src/request-line.js';
import { tempDir } from '../helpers.js';

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run the logging fixture with its stdout on a pipe (not a terminal) and the given environment. */
function runFixture(
  dir: string,
  mode: string,
  requests: number,
  env: Record<string, string | undefined> = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const base: Record<string, string | undefined> = {
      ...process.env,
      VITEST: undefined,
      GATEHOUSE_LOG_LEVEL: 'info',
      GATEHOUSE_LOG_FORMAT: undefined,
      NODE_ENV: undefined,
      ...env,
    };
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/servers/fixtures/logging-portal.ts', dir, mode, String(requests)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: Object.fromEntries(Object.entries(base).filter((e): e is [string, string] => e[1] !== undefined)),
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Every key of one raw JSON line, in order, duplicates included (JSON.parse would hide them). */
function rawKeys(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') {
      let j = i + 1;
      while (line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      if (depth === 1 && line[j + 1] === ':') keys.push(line.slice(i + 1, j));
      i = j;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return keys;
}

/** A JSON logger made by createLogger whose lines land in `lines` (a plain stream: the template path). */
function memoryLogger(service: string): { log: ReturnType<typeof createLogger>; lines: string[] } {
  const lines: string[] = [];
  const log = createLogger({
    level: 'info',
    format: 'json',
    destination: { write: (l: string) => void lines.push(l) },
  }).child({ service });
  return { log, lines };
}

describe('Logging', () => {
  let cleanup: (() => void) | undefined;
  afterEach(() => cleanup?.());

  it('writes JSON lines with one service, no repeated key and ISO times when stdout is not a terminal', async () => {
    const t = tempDir('gh-log-');
    cleanup = t.cleanup;
    const run = await runFixture(t.dir, 'idle', 5);
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    // 5 requests, 5 handler lines, the nested component line (a portal that never listened logs no decommission).
    expect(lines.length).toBeGreaterThanOrEqual(11);
    for (const line of lines) {
      const keys = rawKeys(line);
      expect(new Set(keys).size, `repeated key in ${line}`).toBe(keys.length);
      expect(keys.filter((k) => k === 'service')).toEqual(['service']);
      const parsed = JSON.parse(line) as Record<string, unknown>;
      expect(parsed.service).toBe('log-fixture');
      expect(parsed.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    // The component that was handed no logger (Database) and the one handed a child with `component` both appear.
    expect(parsed.find((p) => p.msg === 'nested component line')?.component).toBe('tasks');
    const requests = parsed.filter((p) => p.msg === 'request');
    expect(requests).toHaveLength(5);
    expect(requests[0]).toMatchObject({ method: 'GET', path: '/api/echo/0', status: 200, identity: null });
    expect(requests[0]!.trace_id).toMatch(/^[0-9a-f]{32}$/);
    const handlerLines = parsed.filter((p) => p.msg === 'handler line');
    expect(handlerLines).toHaveLength(5);
    expect(handlerLines[0]!.trace_id).toBe(requests[0]!.trace_id);
  });

  it('prints pretty lines with NODE_ENV=development and JSON when GATEHOUSE_LOG_FORMAT=json forces it', async () => {
    const t = tempDir('gh-log-');
    cleanup = t.cleanup;
    const pretty = await runFixture(t.dir, 'idle', 2, { NODE_ENV: 'development' });
    expect(pretty.code).toBe(0);
    const first = pretty.stdout.split('\n')[0]!;
    expect(() => JSON.parse(first) as unknown).toThrow();
    expect(pretty.stdout).toMatch(/\[\d\d:\d\d:\d\d\.\d{3}\] INFO.*request/);
    expect(pretty.stdout).toContain('service: "log-fixture"');
    const forced = await runFixture(t.dir, 'idle', 2, { NODE_ENV: 'development', GATEHOUSE_LOG_FORMAT: 'json' });
    expect(forced.code).toBe(0);
    for (const line of forced.stdout.trim().split('\n'))
      expect((JSON.parse(line) as { service: string }).service).toBe('log-fixture');
  });

  it('writes the request line exactly as pino would, as one template string', () => {
    const { log, lines } = memoryLogger('line "test"');
    const write = requestLineWriter(log)!;
    expect(write).toBeTypeOf('function');
    const fields = {
      method: 'GET',
      path: '/api/a"b\\c/ü',
      status: 201,
      durationMs: 0.37,
      requestId: 'req-1',
      identity: 'user "7"',
      traceId: 'a'.repeat(32),
      spanId: 'b'.repeat(16),
    };
    const f = fields;
    write(f.method, f.path, f.status, f.durationMs, f.requestId, f.identity, f.traceId, f.spanId);
    log.info(
      {
        method: 'GET',
        path: fields.path,
        status: 201,
        durationMs: 0.37,
        requestId: 'req-1',
        identity: fields.identity,
        trace_id: fields.traceId,
        span_id: fields.spanId,
      },
      'request',
    );
    write(f.method, f.path, f.status, f.durationMs, f.requestId, null, undefined, undefined);
    log.info(
      { method: 'GET', path: fields.path, status: 201, durationMs: 0.37, requestId: 'req-1', identity: null },
      'request',
    );
    const noTime = (l: string): string => l.replace(/"time":"[^"]+"/, '"time":""');
    expect(lines).toHaveLength(4);
    expect(noTime(lines[0]!)).toBe(noTime(lines[1]!));
    expect(noTime(lines[2]!)).toBe(noTime(lines[3]!));
    // A pretty logger, or one gatehouse did not make, logs through pino as usual.
    expect(
      requestLineWriter(createLogger({ format: 'pretty', destination: { write: () => undefined } })),
    ).toBeUndefined();
  });

  it('encodes a request line byte by byte exactly as the template writes it, and declines what it cannot', () => {
    const { log, lines } = memoryLogger('bytes');
    const template = requestLineWriter(log)!; // a plain stream: the template path
    const buf = Buffer.alloc(4096);
    const text = fc.string({ unit: 'binary', maxLength: 40 }); // any code point, quotes and controls included
    const plain = fc.stringMatching(/^[\x20-\x7e]{0,40}$/);
    fc.assert(
      fc.property(
        fc.constantFrom('GET', 'POST', 'DELETE', 'PATCH'),
        fc.oneof(plain, text),
        fc.integer({ min: 100, max: 599 }),
        fc.oneof(
          fc.integer({ min: 0, max: 1e9 }).map((n) => n / 100),
          fc.double({ min: 0, max: 1e6, noNaN: true }),
        ),
        fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/),
        fc.option(fc.oneof(plain, text)),
        fc.option(fc.tuple(fc.stringMatching(/^[0-9a-f]{32}$/), fc.stringMatching(/^[0-9a-f]{16}$/))),
        (method, path, status, durationMs, requestId, identity, trace) => {
          lines.length = 0;
          template(method, path, status, durationMs, requestId, identity, trace?.[0], trace?.[1]);
          const expected = lines[0]!;
          const escapes = !PLAIN.test(path + (identity ?? ''));
          if (!encodable(method, status, durationMs)) {
            // Declined: a duration the hundredths form would not write as String() does.
            expect(Math.round(durationMs * 100) / 100).not.toBe(durationMs);
            return;
          }
          const cut = expected.indexOf('"method":"') + '"method":"'.length;
          const prefix = Buffer.from(expected.slice(0, cut), 'latin1');
          const room = requestLineBytes(prefix.length, method, path, requestId, identity, trace?.[0], trace?.[1]);
          expect(room).toBeLessThan(buf.length);
          const head = encodeRequestHead(buf, 7, prefix, method, path, status, durationMs);
          const end =
            head === DECLINED ? DECLINED : encodeRequestTail(buf, head, requestId, identity, trace?.[0], trace?.[1]);
          if (escapes) {
            // Declined while copying: a string with a character to escape or outside printable ASCII.
            expect(end).toBe(DECLINED);
            return;
          }
          expect(buf.toString('latin1', 7, end)).toBe(expected);
          expect(end - 7).toBeLessThanOrEqual(room);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('batches lines into a file whole and in order: multi-byte text, chunk boundaries, a line larger than a chunk', async () => {
    const t = tempDir('gh-log-');
    cleanup = t.cleanup;
    const file = join(t.dir, 'logs', 'app.log');
    const log = createLogger({ level: 'info', format: 'json', destination: file, bufferBytes: 1000 }).child({
      service: 'batch',
    });
    const write = requestLineWriter(log)!;
    const expected: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const path = i % 7 === 0 ? `/ü/€/😀/${i}` : `/plain/${i}`;
      if (i === 1500) {
        log.info({ big: 'x'.repeat(200_000) + 'ü' }, 'big');
        expected.push('big');
      } else if (i % 10 === 0) {
        log.info({ i }, `pino ${i}`);
        expected.push(`pino ${i}`);
      } else {
        write('GET', path, 200, i / 100, `r${i}`, null, undefined, undefined);
        expected.push(path);
      }
    }
    await flushLogger(log);
    const lines = readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string; path?: string; big?: string });
    expect(lines.map((l) => (l.msg === 'request' ? l.path : l.msg))).toEqual(expected);
    expect(lines.find((l) => l.msg === 'big')?.big).toHaveLength(200_001);
  });

  it.skipIf(!existsSync('/dev/full'))(
    'reports a destination that fails its writes (ENOSPC) on stderr, and neither throws nor hangs a flush',
    async () => {
      const reports: string[] = [];
      const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
        reports.push(String(chunk));
        return true;
      });
      try {
        // Batched (written in place: /dev/full is a character device) and line by line.
        for (const bufferBytes of [100, 0]) {
          const log = createLogger({ level: 'info', format: 'json', destination: '/dev/full', bufferBytes });
          for (let i = 0; i < 50; i++) expect(() => log.info({ i }, 'line')).not.toThrow();
          await flushLogger(log);
          flushLoggerSync(log);
        }
      } finally {
        spy.mockRestore();
      }
      // One report per destination (at most one a minute), naming the error and the destination.
      expect(reports.filter((r) => r.includes('ENOSPC') && r.includes('/dev/full'))).toHaveLength(2);
    },
  );

  it('writes every buffered line by the time close() resolves (the process is then killed with SIGKILL)', async () => {
    const t = tempDir('gh-log-');
    cleanup = t.cleanup;
    const run = await runFixture(t.dir, 'close', 300);
    expect(run.signal).toBe('SIGKILL');
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string; path?: string });
    const paths = lines.filter((l) => l.msg === 'request').map((l) => l.path);
    expect(paths).toHaveLength(300);
    expect(paths[299]).toBe('/api/echo/299');
  });

  it('writes the buffered lines and a fatal line on an uncaught exception', async () => {
    const t = tempDir('gh-log-');
    cleanup = t.cleanup;
    const run = await runFixture(t.dir, 'crash', 50);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('fixture crash');
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string; level: number; err?: { message: string } });
    expect(lines.filter((l) => l.msg === 'request')).toHaveLength(50);
    const fatal = lines.find((l) => l.level === 60);
    expect(fatal?.msg).toBe('uncaught exception');
    expect(fatal?.err?.message).toBe('fixture crash');
  });
});

describe('Portal loggers', () => {
  it('gives each portal its own child logger, even two of the same name', async () => {
    const { ServicePortal } = await import('../../src/servers/index.js');
    const t = tempDir('gh-log-');
    const a = new ServicePortal({ name: 'twin', dataDir: t.dir, auth: { secret: 'x'.repeat(32) } });
    const b = new ServicePortal({ name: 'twin', dataDir: t.dir, auth: { secret: 'x'.repeat(32) } });
    try {
      expect(a.log).not.toBe(b.log);
      expect(a.log.bindings().service).toBe('twin');
      b.log.level = 'debug';
      expect(a.log.level).not.toBe('debug');
    } finally {
      await a.close();
      await b.close();
      t.cleanup();
    }
  });
});

// Last in this file on purpose: logsStarted() is process-wide, and the tests above run before any portal listens.
describe('Log writes around startup', () => {
  it('writes each line at once until the process has started, then in batches that a flush writes out', async () => {
    const t = tempDir('gh-log-');
    try {
      const file = join(t.dir, 'app.log');
      const log = createLogger({ level: 'info', format: 'json', destination: file });
      const msgs = (): string[] =>
        readFileSync(file, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => (JSON.parse(l) as { msg: string }).msg);
      log.info('starting');
      expect(msgs()).toEqual(['starting']); // on the file before the call returned
      logsStarted();
      logsStarted(); // twice is fine
      log.info('serving');
      expect(msgs()).toEqual(['starting']); // in the batch
      await flushLogger(log);
      expect(msgs()).toEqual(['starting', 'serving']);
      // A logger made after the start batches from its first line.
      const late = createLogger({ level: 'info', format: 'json', destination: file });
      late.info('late');
      expect(msgs()).toEqual(['starting', 'serving']);
      flushLoggerSync(late);
      expect(msgs()).toEqual(['starting', 'serving', 'late']);
    } finally {
      t.cleanup();
    }
  });

  it.skipIf(!existsSync('/dev/full'))('reports a failing batched destination once, after the start too', async () => {
    const reports: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      reports.push(String(chunk));
      return true;
    });
    try {
      logsStarted();
      const log = createLogger({ level: 'info', format: 'json', destination: '/dev/full', bufferBytes: 100 });
      for (let i = 0; i < 50; i++) expect(() => log.info({ i }, 'line')).not.toThrow();
      await flushLogger(log);
      flushLoggerSync(log);
    } finally {
      spy.mockRestore();
    }
    expect(reports.filter((r) => r.includes('ENOSPC') && r.includes('/dev/full'))).toHaveLength(1);
  });
});
