// The destinations gatehouse opens for its loggers (src/logger.ts): a file or descriptor written in place or in
// batches, write failures reported instead of thrown, every owned destination flushed synchronously on the way out.
import { fstatSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type * as Tty from 'node:tty';
import type * as Pino from 'pino';
import type { DestinationStream } from 'pino';
import { loadNow } from './load.js';

function openLogFile(file: string): number {
  mkdirSync(dirname(file), { recursive: true });
  return openSync(file, 'a');
}

/**
 * Whether a write to `fd` lands without waiting for anyone: a regular file (the page cache takes it) or a
 * character device other than a terminal (`/dev/null`). A batch for such a target is written by the thread that completes
 * it, one system call per batch: handing it to libuv's thread pool instead costs two thread wake-ups per batch,
 * which under load measured more than the write itself (bench:http: request log on / off 0.76 through the pool,
 * 0.98 written in place). Node writes `process.stdout` to files the same way. Pipes and sockets (a log collector
 * that may fall behind) keep the asynchronous write, so a slow reader never stalls a request.
 */
function writesWithoutWaiting(fd: number): boolean {
  try {
    const stat = fstatSync(fd);
    // A terminal can push back (EAGAIN): it keeps the asynchronous write.
    return stat.isFile() || (stat.isCharacterDevice() && !loadNow<typeof Tty>('node:tty').isatty(fd));
  } catch {
    return false;
  }
}

/** Bytes a destination that cannot write (disk full, closed pipe) keeps for retrying; beyond them lines are dropped. */
const MAX_PENDING_BYTES = 16 * 1024 * 1024;
/**
 * sonic-boom destinations whose last write failed. sonic-boom's flush and flushSync retry such a write until it
 * succeeds (sleeping 100 ms between tries), which would hang `close()` and process exit on a full disk: they are
 * skipped (a line-by-line destination by `flushOwnedSync`, a batched one by its `LineBatch`).
 */
const failing = new WeakSet<object>();
/** Shortest time between two reports of the same destination's failure on stderr, in ms. */
const REPORT_EVERY_MS = 60_000;

/**
 * A failed write (ENOSPC, EPIPE, ...) must not throw into the request that logged, nor crash the process: it is
 * reported on stderr (at most once a minute per destination), the unwritten bytes are retried with the next
 * batch, and lines beyond `MAX_PENDING_BYTES` are dropped and counted.
 */
function reportWriteFailures(booms: readonly SonicBoom[], label: string): void {
  let lastReport = -Infinity;
  let dropped = 0;
  const report = (what: string): void => {
    const now = Date.now();
    if (now - lastReport < REPORT_EVERY_MS) return;
    lastReport = now;
    process.stderr.write(`gatehouse logger: ${what} (${label})\n`);
  };
  // The booms of one destination (its startup writer and its batch writer) share one report budget.
  for (const boom of booms) {
    boom.on('write', () => failing.delete(boom));
    boom.on('error', (err: Error) => {
      failing.add(boom);
      report(`cannot write log lines, keeping up to ${MAX_PENDING_BYTES} bytes for retry: ${err.message}`);
    });
    boom.on('drop', () => {
      dropped++;
      report(`dropped ${dropped} log write(s): the destination is not taking them`);
    });
  }
}

/** A destination gatehouse opened itself (sonic-boom), flushed on close and on fatal errors. */
export interface OwnedDestination {
  flush(cb?: (err?: Error) => void): void;
  flushSync(): void;
}

/** Longest a line waits in the batch before it is handed to the destination, in ms. */
const BATCH_DELAY_MS = 100;

/** Size of the buffers lines are encoded into; batches are slices of them. */
const CHUNK_BYTES = 128 * 1024;

type SonicBoom = ReturnType<typeof Pino.destination>;

/**
 * Lines encoded straight into a large buffer as they arrive, and handed to sonic-boom (in buffer mode) as one
 * slice per batch (`bufferBytes`, or after `BATCH_DELAY_MS`, whichever comes first). A line costs one UTF-8
 * encode into memory that is already there (or none: the request line is encoded in place, see `reserve`); the
 * system call (and, for a pipe, the trip through libuv's thread pool) is paid once per batch, with no string
 * joins or string-to-bytes copies. Slices handed on are never written to again: a full chunk is replaced, not
 * reused.
 */
class LineBatch implements DestinationStream, OwnedDestination {
  /**
   * Until the process has started (see {@link logsStarted}), lines go through this synchronous destination on the
   * same file descriptor, each written before the log call returns; then it is dropped and lines are batched.
   */
  private startup: SonicBoom | undefined;
  private chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  /** First byte not yet handed on, and the end of what was encoded. */
  private start = 0;
  private end = 0;
  private scheduled = false;
  private readonly onTick = (): void => {
    this.scheduled = false;
    this.drain();
  };

  constructor(
    private readonly boom: SonicBoom,
    private readonly batchBytes: number,
    startup?: SonicBoom,
  ) {
    this.startup = startup;
  }

  write(line: string): void {
    if (!this.batching()) {
      this.startup!.write(line);
      return;
    }
    // A UTF-16 code unit never takes more than 3 bytes in UTF-8.
    const chunk = this.room(line.length * 3);
    if (chunk === undefined) this.boom.write(Buffer.from(line, 'utf8') as unknown as string);
    else this.commit(this.end + chunk.write(line, this.end));
  }

  /**
   * The batch buffer with room for `bytes` more bytes from {@link at}, for a caller that encodes a line itself;
   * `undefined` while lines are still written one at a time (before the process started), or for a line larger
   * than a buffer. The caller then calls {@link commit}.
   */
  reserve(bytes: number): Buffer | undefined {
    return this.batching() ? this.room(bytes) : undefined;
  }

  /** Where the next line starts in the buffer {@link reserve} returned. */
  get at(): number {
    return this.end;
  }

  /** The line written from {@link at} ends at `end`: hand the batch on once it is `batchBytes`, or soon. */
  commit(end: number): void {
    this.end = end;
    if (this.end - this.start >= this.batchBytes) this.drain();
    else if (!this.scheduled) {
      this.scheduled = true;
      setTimeout(this.onTick, BATCH_DELAY_MS).unref();
    }
  }

  /** Whether lines are batched yet: until the process has started they go through `startup`, one at a time. */
  private batching(): boolean {
    if (this.startup === undefined) return true;
    if (!started) return false;
    this.startup = undefined;
    return true;
  }

  /** The buffer with `bytes` free from `end` (a new one when the current is full), or `undefined` if none can be. */
  private room(bytes: number): Buffer | undefined {
    if (this.end + bytes > CHUNK_BYTES) {
      this.drain();
      if (bytes > CHUNK_BYTES) return undefined;
      this.chunk = Buffer.allocUnsafe(CHUNK_BYTES);
      this.start = this.end = 0;
    }
    return this.chunk;
  }

  private drain(): void {
    if (this.end === this.start) return;
    // sonic-boom in buffer mode takes Buffers; its types declare only the string mode's write.
    this.boom.write(this.chunk.subarray(this.start, this.end) as unknown as string);
    this.start = this.end;
  }

  flush(cb?: (err?: Error) => void): void {
    this.drain();
    if (failing.has(this.boom)) cb?.(new Error('the log destination is failing its writes'));
    else this.boom.flush(cb);
  }

  flushSync(): void {
    this.drain();
    if (!failing.has(this.boom)) this.boom.flushSync();
  }
}

/** A destination that takes lines encoded straight into its batch buffer (see {@link LineBatch.reserve}). */
export interface LineBuffer {
  reserve(bytes: number): Buffer | undefined;
  readonly at: number;
  commit(end: number): void;
}

/** The batch buffer behind a destination gatehouse opened, when lines can be encoded into it directly. */
export function lineBufferOf(stream: DestinationStream): LineBuffer | undefined {
  return stream instanceof LineBatch ? stream : undefined;
}

/**
 * Process-wide on purpose: whether the process has started, i.e. its first portal listens. Before that, batched
 * destinations write each line at once, synchronously: startup lines are few, and a person reading them (a file,
 * a pipe into `tee`) sees them in the order they happened, interleaved correctly with the application's own
 * `console.log` output, and none is lost if startup crashes. From then on lines are batched (a request never
 * waits for a log write).
 */
let started = false;

/**
 * Tell gatehouse's logging that the process has started (a portal calls this once it listens): from now on JSON
 * lines are written in batches instead of one at a time. Safe to call more than once.
 */
export function logsStarted(): void {
  started = true;
}

/**
 * Process-wide on purpose: every destination gatehouse opened, flushed by the one exit hook (the hooks are the
 * process's; each logger's destination is its own).
 */
const destinations = new Set<OwnedDestination>();

/** Flush every gatehouse-owned destination synchronously: the last thing done before the process dies. */
export function flushAllSync(): void {
  for (const d of destinations) flushOwnedSync(d);
}

/**
 * Write out one owned destination synchronously, on a path that cannot wait or fail: a destination whose writes
 * are failing is skipped, and an error (closed fd, still opening) never hides the original one.
 */
export function flushOwnedSync(d: OwnedDestination): void {
  if (failing.has(d)) return;
  try {
    d.flushSync();
  } catch {
    // nothing left to do on a dying path
  }
}

/**
 * Open a destination gatehouse owns on a file path or descriptor: written at once (`direct`: pretty lines, `sync`,
 * or `bufferBytes` 0) or encoded into batches of `bufferBytes` (see {@link LineBatch}); registered for the exit
 * flush until it closes.
 */
export function openOwnedDestination(
  target: string | number,
  direct: boolean,
  bufferBytes: number,
): OwnedDestination & DestinationStream {
  const { pino } = loadNow<typeof Pino>('pino');
  // Pretty lines are for people reading as it happens: written at once. JSON lines are encoded into batches,
  // each written by pino's destination (sonic-boom in buffer mode): in place for a file, asynchronously for a
  // pipe or socket (see writesWithoutWaiting).
  // minLength 1, not 0: sonic-boom's flush(cb) only waits for the pending write when minLength > 0.
  // A file is opened now, once, synchronously: sonic-boom's own asynchronous open can lose the race with an early
  // exit (its exit hook then throws "not ready"), and lines written before it completes only pile up in memory.
  const fd = typeof target === 'number' ? target : openLogFile(target);
  const boom = direct
    ? pino.destination({ dest: fd, sync: true, minLength: 0, maxLength: MAX_PENDING_BYTES })
    : pino.destination({
        dest: fd,
        sync: writesWithoutWaiting(fd),
        minLength: 1,
        maxLength: MAX_PENDING_BYTES,
        contentMode: 'buffer',
      });
  const startup =
    direct || started
      ? undefined
      : pino.destination({ dest: fd, sync: true, minLength: 0, maxLength: MAX_PENDING_BYTES });
  reportWriteFailures(startup ? [boom, startup] : [boom], typeof target === 'string' ? target : `fd ${target}`);
  const out = direct ? boom : new LineBatch(boom, bufferBytes, startup);
  destinations.add(out);
  boom.once('close', () => destinations.delete(out));
  return out;
}
