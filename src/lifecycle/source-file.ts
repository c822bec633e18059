import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { LifecycleError } from './errors.js';
import { newFollower, startHeartbeat, type Follower, type FollowerInfo } from './followers.js';
import { parseStoredRecord, type LifecycleSource } from './sources.js';
import type { LifecycleRecord } from './states.js';

/**
 * A JSON file `{ "state": "MAINTENANCE", "message": "...", "retryAfterSec": 600 }`, watched for changes (stat
 * polling, so editors' atomic renames are seen too). A missing file means ACTIVE; `set()` rewrites it atomically.
 */
export class FileSource implements LifecycleSource {
  readonly name: string = 'file';
  constructor(
    private readonly path: string,
    private readonly intervalMs = 250,
  ) {}

  /** Read and validate the file; `null` when it does not exist. */
  read(): LifecycleRecord | null {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new LifecycleError(`lifecycle file ${this.path}: cannot read it`, {
        code: 'ERR_LIFECYCLE_SOURCE',
        cause: err,
      });
    }
    return parseStoredRecord(text, `lifecycle file ${this.path}`);
  }

  /** Write the file atomically (temp file, then rename). */
  write(record: LifecycleRecord): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`);
    renameSync(tmp, this.path);
  }

  /** Folder of the followers' heartbeat files, beside the state file. */
  get followersDir(): string {
    return `${this.path}.followers`;
  }

  /** Heartbeat entries (one JSON file per follower in {@link FileSource.followersDir}); unreadable ones are skipped. */
  followers(): Follower[] {
    let names: string[];
    try {
      names = readdirSync(this.followersDir).filter((n) => n.endsWith('.json'));
    } catch {
      return [];
    }
    return names.flatMap((n) => {
      try {
        return [JSON.parse(readFileSync(join(this.followersDir, n), 'utf8')) as Follower];
      } catch {
        return [];
      }
    });
  }

  /**
   * Poll the file's stat and report changes. The first poll always reports one, so a write that lands between
   * the initial read and the first stat is never missed (fs.watchFile takes its baseline asynchronously). With a
   * `follower`, keeps its heartbeat file in {@link FileSource.followersDir} until unwatched.
   */
  watch(changed: () => void, follower?: FollowerInfo): () => void {
    let stopBeat: (() => void) | undefined;
    if (follower) {
      const entry = newFollower(follower);
      const file = join(this.followersDir, `${entry.id.replace(/[^\w.-]/g, '_')}.json`);
      stopBeat = startHeartbeat(
        () => {
          entry.lastSeen = Date.now();
          mkdirSync(this.followersDir, { recursive: true });
          writeFileSync(`${file}.tmp`, JSON.stringify(entry));
          renameSync(`${file}.tmp`, file);
        },
        () => rmSync(file, { force: true }),
      );
    }
    let last: string | undefined;
    let busy = false;
    let stopped = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      stat(this.path)
        .then(
          (st) => `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`,
          (err: NodeJS.ErrnoException) => `missing:${err.code ?? ''}`,
        )
        .then((sig) => {
          busy = false;
          if (stopped || sig === last) return;
          last = sig;
          changed();
        });
    }, this.intervalMs);
    timer.unref();
    return () => {
      stopped = true;
      clearInterval(timer);
      stopBeat?.();
    };
  }
}
