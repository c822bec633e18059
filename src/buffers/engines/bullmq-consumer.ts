/**
 * The BullMQ engine's consumer: a BullMQ Worker driving the buffer's runner. BullMQ renews job locks, recovers
 * stalled jobs and schedules retries (with gatehouse's backoff as a custom strategy); this class counts stalls
 * as attempts, decides dead letters by gatehouse's rules, gives jobs back on `stop()` and reports `drained`.
 */
import type { Redis } from 'ioredis';
import { Worker, UnrecoverableError as BullUnrecoverableError, WaitingError, type Job } from 'bullmq';
import type { ConsumedJob, ConsumeOptions, JobConsumer, JobRun } from '../engine.js';
import { BufferError } from '../errors.js';

/**
 * BullMQ fails a job that stalled more than `maxStalledCount` times. Stalls are counted as attempts by the
 * processor instead (attemptsMade + stalledCounter), so BullMQ's own cap is set out of the way.
 */
const STALL_CAP = 1_000_000;

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** What the processor decided about an attempt, read back by the `failed` event. */
interface Decision<R> {
  job: R | ConsumedJob;
  error: Error;
  final: boolean;
}

/** One attempt running here. */
interface Active<R> {
  run: R;
  /** Resolves when `stop()` gives the job back. */
  release: () => void;
}

/** The BullMQ worker of one engine, driving gatehouse's processor. */
export class BullmqConsumer<R extends JobRun> implements JobConsumer {
  readonly worker: Worker;
  private readonly active = new Map<string, Active<R>>();
  private readonly decisions = new Map<string, Decision<R>>();
  private readonly runs = new Map<string, R>();
  private worked = false;
  /** BullMQ `drained` events so far (one per empty spell: a fetch found nothing after finding jobs). */
  private emptySpells = 0;
  /** The spells a count has since shown to be over (ready jobs were there again). */
  private spellsOver = 0;
  private checkingDrain = false;
  private stopping = false;
  private paused = false;

  constructor(
    queue: string,
    connection: Redis,
    prefix: string,
    private readonly countReady: () => Promise<number>,
    private readonly start: (job: ConsumedJob) => R,
    private readonly o: ConsumeOptions<R>,
  ) {
    this.worker = new Worker(queue, (job, token) => this.process(job, token), {
      connection,
      prefix,
      concurrency: o.workers,
      lockDuration: o.leaseMs,
      // A stalled job is found by the first check after its lock expired: within two lease lengths.
      stalledInterval: o.leaseMs,
      maxStalledCount: STALL_CAP,
      settings: {
        backoffStrategy: (attemptsMade: number, _type?: string, _err?: Error, job?: object): number =>
          o.retryDelay(attemptsMade + ((job as { stalledCounter?: number } | undefined)?.stalledCounter ?? 0)),
      },
    });
    this.worker.on('error', () => undefined); // connection errors: BullMQ reconnects and retries
    this.worker.on('completed', (job: Job, result: unknown) => {
      const id = String(job.id);
      const run = this.runs.get(id);
      this.runs.delete(id);
      if (run) this.o.onCompleted(run, result);
      this.maybeDrained();
    });
    this.worker.on('failed', (job: Job | undefined, err: Error) => {
      if (!job) return;
      const id = String(job.id);
      const d = this.decisions.get(id);
      this.decisions.delete(id);
      this.runs.delete(id);
      if (d) this.o.onFailed(d.job, d.error, d.final, true);
      else this.o.onFailed(this.info(job), err, job.finishedOn !== undefined, true);
      this.maybeDrained();
    });
    this.worker.on('drained', () => {
      this.emptySpells++;
      this.maybeDrained();
    });
  }

  /**
   * BullMQ says drained when a fetch finds nothing waiting, often while jobs still run; gatehouse's drained
   * also needs nothing running here. So when this process goes idle after some work and BullMQ's last fetch
   * found nothing, one count of the ready jobs decides (while jobs keep coming, no extra Redis call is made).
   */
  private maybeDrained(): void {
    if (
      !this.worked ||
      this.emptySpells === this.spellsOver ||
      this.active.size > 0 ||
      this.checkingDrain ||
      this.stopping
    )
      return;
    this.checkingDrain = true;
    const spells = this.emptySpells;
    this.countReady().then(
      (ready) => {
        this.checkingDrain = false;
        if (ready > 0)
          this.spellsOver = spells; // BullMQ fetches them, then says drained again
        else if (this.worked && this.active.size === 0) {
          this.worked = false;
          this.o.onDrained();
        }
      },
      () => {
        this.checkingDrain = false;
      },
    );
  }

  get running(): number {
    return this.active.size;
  }

  private info(job: Job): ConsumedJob {
    return {
      id: Number(job.id),
      type: job.name,
      data: job.data as unknown,
      attempts: job.attemptsMade + (job.stalledCounter ?? 0) + 1,
      maxAttempts: job.opts.attempts ?? 1,
    };
  }

  private async process(job: Job, token: string | undefined): Promise<unknown> {
    if (this.paused || this.stopping) {
      // Fetched by a blocking call that was already waiting when the worker paused: give it back untouched.
      await job.moveToWait(token);
      throw new WaitingError();
    }
    this.worked = true;
    const id = String(job.id);
    const info = this.info(job);
    if (info.attempts > info.maxAttempts) {
      // Every earlier attempt was lost with its worker (stalled): out of attempts without running again.
      const error = new BufferError(
        `job ${id} ran out of attempts: its worker stopped ${job.stalledCounter} times while running it`,
        { code: 'ERR_BUFFER_LEASE_EXPIRED' },
      );
      this.decisions.set(id, { job: { ...info, attempts: info.maxAttempts }, error, final: true });
      throw new BullUnrecoverableError(`${error.name}: ${error.message}`);
    }
    let release!: () => void;
    const released = new Promise<'released'>((res) => (release = () => res('released')));
    let run: R | undefined;
    try {
      run = this.start(info);
      this.active.set(id, { run, release });
      this.runs.set(id, run);
      const outcome = await Promise.race([run.done.then((result) => ({ result })), released]);
      if (outcome === 'released') {
        // stop() gave up waiting: back to waiting without counting the attempt; WaitingError tells BullMQ so.
        this.runs.delete(id);
        await job.moveToWait(token);
        throw new WaitingError();
      }
      return outcome.result;
    } catch (err) {
      if (err instanceof WaitingError) throw err;
      const error = toError(err);
      const final = this.o.isUnrecoverable(error) || info.attempts >= info.maxAttempts;
      this.decisions.set(id, { job: run ?? info, error, final });
      // Final by gatehouse's count (stalls included), whatever BullMQ's attemptsMade says.
      if (final) throw new BullUnrecoverableError(`${error.name}: ${error.message}`);
      throw error;
    } finally {
      this.active.delete(id);
    }
  }

  /** Stop taking new jobs (the lifecycle left ACTIVE); running ones finish. */
  pause(): void {
    this.paused = true;
    void this.worker.pause(true).catch(() => undefined);
  }

  /** Take jobs again after `pause()`. */
  resume(): void {
    this.paused = false;
    this.worker.resume();
  }

  /** Stop the Worker: running jobs get `timeoutMs` to finish, the rest go back to the queue; resolves how many were given back. */
  async stop(timeoutMs: number): Promise<number> {
    if (this.stopping) return 0;
    this.stopping = true;
    const closing = this.worker.close();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      closing.then(() => false),
      new Promise<boolean>((res) => (timer = setTimeout(() => res(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (!timedOut) return 0;
    const left = [...this.active.values()];
    for (const a of left) {
      a.run.abort(new BufferError('task buffer stopped before the job finished', { code: 'ERR_BUFFER_CLOSED' }));
      a.release();
    }
    await closing.catch(() => undefined);
    return left.length;
  }
}
